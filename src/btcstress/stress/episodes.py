"""Episodes: the past instants most like T in the space of the stress components, and what came next.

Candidates are the ends of UTC days from `start` up to `recent_days` before T (so the current episode
is not its own analogue), each with its components as known THEN (the stress series at that instant).
Distance from T: the root mean square of the component differences over the forces present at both
instants (`d = sqrt(mean_f (z_T,f - z_c,f)^2)`), in the components' own units (robust z). A candidate
must share at least `min_shared` forces with T (fewer when T itself has fewer). One instant per
episode: candidates are taken nearest first, and a candidate within `gap_days` of one already taken
is skipped, so the days of one crash count once.

Outcomes: the forward BTC return from the episode day's close to the close 1, 7 and 30 days later
(the composite daily bars, as the price area reads them), only where that later close was published
by T; otherwise "not known yet". Everything here reads the store cut at T.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import numpy as np
import pandas as pd

from btcstress.stress.components import FORCES
from btcstress.stress.params import DEFAULTS as _ALL
from btcstress.store import utc_naive

HORIZONS = (1, 7, 30)
DEFAULTS: dict[str, Any] = {k.removeprefix("episodes_"): v for k, v in _ALL.items() if k.startswith("episodes_")}
NOT_KNOWN = "not known yet"


def nearest(now: pd.Series, candidates: pd.DataFrame, *, k: int, gap_days: int, min_shared: int
            ) -> pd.DataFrame:
    """The k nearest candidates to `now` (a row of components), one per episode (see the module doc).

    `candidates` has a column `t` (instant) and one column per force (NaN where missing)."""
    if candidates.empty:
        return candidates.assign(distance=[], shared=[])
    forces = [f for f in FORCES if pd.notna(now.get(f))]
    need = min(min_shared, len(forces))
    z = candidates[forces].to_numpy(dtype=float)
    diff = z - now[forces].to_numpy(dtype=float)
    present = ~np.isnan(diff)
    shared = present.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        dist = np.sqrt(np.where(present, diff ** 2, 0.0).sum(axis=1) / shared)
    c = candidates.assign(distance=dist, shared=shared)
    c = c[(c.shared >= max(need, 1)) & c.distance.notna()].sort_values(["distance", "t"])
    chosen: list[int] = []
    gap = int(pd.Timedelta(days=gap_days) / pd.Timedelta(microseconds=1))
    keep = []
    # instants as integer microseconds: iterating the column would make a Timestamp of every candidate
    micros = pd.to_datetime(c.t).to_numpy(dtype="datetime64[us]").astype("int64")
    for i, t in zip(c.index, micros.tolist()):
        if all(abs(t - u) > gap for u in chosen):
            chosen.append(t)
            keep.append(i)
            if len(chosen) == k:
                break
    return c.loc[keep]


def closes(store, as_of: dt.datetime) -> pd.DataFrame:
    """The composite daily closes published by as_of: date -> close."""
    c = store.table("candles", as_of)
    c = c.filter((c.venue == "cryptoquant") & (c.symbol == "BTC-USD") & (c.interval == "1d"))
    df = c.select(date=c.open_time.date(), close=c.close, origin=c.origin).order_by("date").execute()
    df["date"] = pd.to_datetime(df["date"])
    return df.set_index("date")


def forward(closes_df: pd.DataFrame, day: pd.Timestamp) -> dict[str, dict[str, Any]]:
    """Forward returns from `day`'s close, in %, per horizon; NOT_KNOWN when the later close was not
    published by the as-of of `closes_df`."""
    out: dict[str, dict[str, Any]] = {}
    base = closes_df.close.get(day)
    for h in HORIZONS:
        end = day + pd.Timedelta(days=h)
        later = closes_df.close.get(end)
        if base is None or later is None:
            out[f"{h}d"] = {"value": None, "status": NOT_KNOWN, "to": str(end.date())}
        else:
            out[f"{h}d"] = {"value": round((float(later) / float(base) - 1) * 100, 4), "status": "known",
                            "to": str(end.date()), "close": float(later)}
    return out


def findings(store, as_of: dt.datetime, now: pd.Series | None, cand: pd.DataFrame, cand_measures: pd.DataFrame,
             params: dict | None = None) -> list:
    """`stress.episode` (one per episode, nearest first) and `stress.episodes.forward_return_pct` (median and
    range per horizon) as of `as_of`. `now` is the combined components row at as_of; `cand`/`cand_measures`
    come from `candidates`."""
    from btcstress.findings import Finding, Source, not_available

    p = {**DEFAULTS, **(params or {})}
    as_of = as_of if as_of.tzinfo else as_of.replace(tzinfo=dt.timezone.utc)
    method = (f"the {p['k']} past day-ends nearest to as-of in stress-component space: RMS of component "
              f"differences over the forces present at both (at least {p['min_shared']}); one day per "
              f"episode (candidates within {p['gap_days']} days of a chosen one are skipped) and none from the "
              f"{p['recent_days']} days before as-of (the current episode)")
    if now is None or pd.isna(now.get("index")):
        reason = "the stress index is not available at as-of"
        return [not_available("stress.episode", as_of, reason, subject="#1", unit="date", method=method)]
    cutoff = pd.Timestamp(utc_naive(as_of)) - pd.Timedelta(days=int(p["recent_days"]))
    cand = cand[cand.t <= cutoff]
    picked = nearest(now, cand, k=int(p["k"]), gap_days=int(p["gap_days"]), min_shared=int(p["min_shared"]))
    if picked.empty:
        return [not_available("stress.episode", as_of, "no past day with the stress index to compare with",
                              subject="#1", unit="date", method=method)]
    cl = closes(store, as_of)
    price_rows = cand_measures[cand_measures.measure == "price.return_1d_pct"].set_index("t")
    closes_src = Source(table="candles", origin=", ".join(sorted(set(cl.origin))) if len(cl) else "-",
                        rows=len(cl), first=cl.index.min().to_pydatetime() if len(cl) else None,
                        last=cl.index.max().to_pydatetime() if len(cl) else None,
                        note="composite daily closes published by as-of: headline move and forward returns")
    out, forwards = [], []
    for rank, (_, row) in enumerate(picked.iterrows(), start=1):
        pr = price_rows.loc[row.t] if row.t in price_rows.index else None
        day = pd.Timestamp(pr.cdate) if pr is not None else pd.Timestamp(row.t) - pd.Timedelta(days=1)
        fwd = forward(cl, day)
        forwards.append(fwd)
        shared = [f for f in FORCES if pd.notna(row.get(f)) and pd.notna(now.get(f))]
        headline = ({"id": "price.change_1d_pct", "value": round(float(pr.cval), 4),
                     "close_usd": float(cl.close.get(day)) if day in cl.index else None, "date": str(day.date())}
                    if pr is not None else None)
        out.append(Finding(
            id="stress.episode", subject=f"#{rank}", value=str(day.date()), unit="date", as_of=as_of,
            window=f"1d:{day.date()}", method=method, params=p, sources=[closes_src],
            detail={"rank": rank, "instant": pd.Timestamp(row.t).isoformat() + "Z", "date": str(day.date()),
                    "distance": round(float(row.distance), 4), "compared_on": shared,
                    "index": round(float(row["index"]), 4),
                    "components": {f: round(float(row[f]), 4) for f in FORCES if pd.notna(row.get(f))},
                    "headline": headline, "forward": fwd}))
    return out + _forward_findings(as_of, [o.value for o in out], forwards, closes_src)


def _forward_findings(as_of: dt.datetime, days: list[str], forwards: list[dict], closes_src) -> list:
    """`stress.episodes.forward_return_pct` per horizon: the median over the episodes (`days`, nearest
    first) whose horizon had ended by as-of."""
    from btcstress.findings import Finding, not_available

    out = []
    for h in HORIZONS:
        key = f"{h}d"
        known = [(d, f[key]["value"]) for d, f in zip(days, forwards) if f[key]["status"] == "known"]
        fid, window = "stress.episodes.forward_return_pct", key
        if not known:
            out.append(not_available(fid, as_of, f"{NOT_KNOWN}: no episode's {h}-day horizon had ended by as-of",
                                     unit="pct", window=window, method="median of the episodes' forward returns"))
            continue
        vals = [v for _, v in known]
        out.append(Finding(
            id=fid, value=round(float(np.median(vals)), 4), unit="pct", as_of=as_of, window=window,
            method=f"median across the episodes of the BTC return from the episode day's close to the close "
                   f"{h} day(s) later (only horizons ended by as-of)", sources=[closes_src],
            detail={"min": min(vals), "max": max(vals), "n_known": len(vals), "n_not_known": len(days) - len(vals),
                    "by_episode": {d: v for d, v in known}}))
    return out
