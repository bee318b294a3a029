"""Leverage's daily findings at one instant (the snapshot): the latest day's liquidations per subject
and open interest, funding and leverage ratio per asset, each with its trailing-year statistics and
provenance, and the area's charts.

Why pandas after one read: every question here is about a few hundred daily rows (the latest day, the
year before it, the rows behind a value). Asked as Ibis queries they were ~45 small queries per
instant (the last day, its statistics and its provenance rows, per subject and column), each paying
~15 ms of fixed cost (expression building, planning, conversion). Here each table is read once (its
rows for the assets from `history_days + MARGIN_DAYS` before the instant, cut at the instant as
`ctx.table` does), plus one aggregate for which origin families the derivatives have, and the rest is
cut in pandas. When a question needs an older row than the read holds (a subject whose latest day is
older than the margin, or none in the window), everything is read again without the lower bound, so
no answer depends on the margin.

The definitions are those of `leverage.per_asset`, `subject_frame` and the derivatives' origin family
(CryptoQuant where any of its rows exists, else the single-venue rows), which the set-based history
(leverage_history) computes in Ibis: tests/history/test_parity.py holds both equal. The series reuse
the findings' reads (the same expressions: the query memo of one computation answers them).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import numpy as np
import pandas as pd

from btcstress.findings import Finding, Series, Source, not_available
from btcstress.metrics import leverage as lev
from btcstress.metrics.context import Context

MARGIN_DAYS = 14  # days read beyond the trailing history: the latest day is usually as-of minus one
LIQ_COLS = ("long_usd", "short_usd", "long_qty", "short_qty")
DERIV_COLS = tuple(col for col, _ in lev._DERIV.values())
_DAY = np.timedelta64(1, "D")


class _Short(Exception):
    """A question needs rows older than the window read."""


class _Window:
    """A table's rows for some assets, as known at as-of, dated from `lo` on (all when `full`), as numpy
    arrays: `day` (datetime64[D]), `asset`, `origin`, `cq` (a CryptoQuant origin) and `v[column]`
    (float, NaN where null)."""

    def __init__(self, ctx: Context, table: str, assets: list[str], cols: tuple[str, ...], days: int,
                 full: bool = False):
        self.table = table
        self.lo = None if full else np.datetime64(ctx.as_of_naive.date() - dt.timedelta(days=days + MARGIN_DAYS), "D")
        t = ctx.table(table)
        t = t.filter(t.asset.isin(assets))
        if self.lo is not None:
            t = t.filter(t.date >= self.lo.astype(dt.date))
        df = t.select("date", "asset", "origin", *cols).execute()
        self.day = pd.to_datetime(df["date"]).to_numpy("datetime64[D]")
        self.asset = df["asset"].to_numpy(dtype=object)
        self.origin = df["origin"].to_numpy(dtype=object)
        self.cq = np.fromiter(("cryptoquant" in o for o in self.origin), bool, len(self.origin))
        self.v = {c: df[c].to_numpy(dtype="float64", na_value=np.nan) for c in cols}

    def need(self, first: np.datetime64 | None) -> None:
        """Raise _Short unless the rows from `first` on are all here (None: the latest day was not found)."""
        if self.lo is not None and (first is None or first < self.lo):
            raise _Short

    def between(self, first: np.datetime64, last: np.datetime64) -> np.ndarray:
        return (self.day >= first) & (self.day <= last)

    def notnull(self, *cols: str) -> np.ndarray:
        m = ~np.isnan(self.v[cols[0]])
        for c in cols[1:]:
            m |= ~np.isnan(self.v[c])
        return m

    def of(self, assets: list[str]) -> np.ndarray:
        return np.isin(self.asset, assets)

    def source(self, mask: np.ndarray, note: str) -> Source:
        """context.source of the rows under `mask` (their origins, count and date span)."""
        origins = sorted(set(self.origin[mask]))
        days = self.day[mask]
        return Source(table=self.table, origin=", ".join(origins) if origins else "-", rows=len(days),
                      first=_datetime(days.min()) if len(days) else None,
                      last=_datetime(days.max()) if len(days) else None, note=note)


def _datetime(d: np.datetime64) -> dt.datetime:
    return pd.Timestamp(d).to_pydatetime()


def _date(d: np.datetime64) -> dt.date:
    return d.astype(dt.date)


def _daily_max(days: np.ndarray, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per distinct day (sorted), the max of `values` ignoring NaN (NaN where all are): SQL's max()."""
    uniq, inv = np.unique(days, return_inverse=True)
    out = np.full(len(uniq), np.nan)
    np.fmax.at(out, inv, values)
    return uniq, out


def _stats(days: np.ndarray, cols: dict[str, np.ndarray], day: np.datetime64, values: dict[str, float],
           n_days: int) -> dict[str, dict]:
    """Count, mean, sample std and percentile of each column over the `n_days` days before `day`, as
    leverage.stat reports them (the history computes the same in Ibis: leverage_history.trailing_stats)."""
    h = (days >= day - n_days * _DAY) & (days < day)
    n = int(h.sum())
    out = {}
    for c, x in values.items():
        v = cols[c][h]
        out[c] = lev.stat(n, v.mean() if n else np.nan, v.std(ddof=1) if n > 1 else np.nan, int((v <= x).sum()), x)
    return out


# liquidations ---------------------------------------------------------------------------------------

def per_asset(w: _Window, asset: str) -> dict[str, np.ndarray]:
    """leverage.per_asset for one asset over the rows read: per day (sorted) each column's max over
    the origin rows, days with both sides known, and total_usd."""
    m = w.asset == asset
    f = {}
    for c in LIQ_COLS:
        f["day"], f[c] = _daily_max(w.day[m], w.v[c][m])
    keep = ~np.isnan(f["long_usd"]) & ~np.isnan(f["short_usd"])
    f = {k: v[keep] for k, v in f.items()}
    f["total_usd"] = f["long_usd"] + f["short_usd"]
    return f


def subject_frame(w: _Window, sub_assets: list[str]) -> dict[str, np.ndarray]:
    """leverage.subject_frame over the rows read: one asset, or the sums over days where all are present."""
    frames = [per_asset(w, a) for a in sub_assets]
    if len(frames) == 1:
        return frames[0]
    days = frames[0]["day"]
    for f in frames[1:]:
        days = np.intersect1d(days, f["day"])
    out = {"day": days}
    for c in ("long_usd", "short_usd", "total_usd"):
        out[c] = sum(f[c][np.isin(f["day"], days)] for f in frames)
    return out


def liquidations(ctx: Context, p: dict[str, Any]) -> list[Finding]:
    assets = list(p["assets"])
    w = _Window(ctx, "liquidations_daily", assets, LIQ_COLS, p["history_days"])
    try:
        return _liquidations(ctx, p, w)
    except _Short:
        return _liquidations(ctx, p, _Window(ctx, "liquidations_daily", assets, LIQ_COLS, 0, full=True))


def _liquidations(ctx: Context, p: dict[str, Any], w: _Window) -> list[Finding]:
    ids = ("liquidations.long_usd", "liquidations.short_usd", "liquidations.total_usd",
           "liquidations.long_share_pct", "liquidations.zscore_1y")
    params = lev._params(p, "assets", "history_days", "min_history_days")
    out: list[Finding] = []
    for subject, sub_assets in lev.subjects(list(p["assets"])):
        frame = subject_frame(w, sub_assets)
        if not len(frame["day"]):
            w.need(None)
            reason = f"no daily liquidations for {subject} published by {ctx.as_of_naive:%Y-%m-%dT%H:%MZ}"
            out += [not_available(i, ctx.as_of, reason, subject=subject, unit=lev._UNITS[i]) for i in ids]
            continue
        w.need(frame["day"][-1] - p["history_days"] * _DAY)
        out += _subject_liquidations(ctx, p, params, subject, sub_assets, frame, w)
    return out


def _subject_liquidations(ctx: Context, p: dict[str, Any], params: dict, subject: str, sub_assets: list[str],
                          frame: dict[str, np.ndarray], w: _Window) -> list[Finding]:
    """The latest day's long, short and total liquidations of one subject (an asset or BTC+ETH), the
    long share and the total's z-score against the trailing history."""
    out: list[Finding] = []
    d = frame["day"][-1]  # the latest day
    day = _date(d)
    long_usd, short_usd, total = (float(frame[c][-1]) for c in ("long_usd", "short_usd", "total_usd"))
    stats = _stats(frame["day"], frame, d, {"long_usd": long_usd, "short_usd": short_usd, "total_usd": total},
                   p["history_days"])
    window = f"1d:{day}"
    mine = w.of(sub_assets)
    on_day = mine & (w.day == d)

    def src_for(*cols: str) -> list[Source]:
        return [w.source(on_day & w.notnull(*cols), lev.DAILY_NOTE)]
    src = src_for("long_usd", "short_usd")
    hist = mine & w.between(d - p["history_days"] * _DAY, d) & w.notnull("long_usd", "short_usd")
    hist_src = [w.source(hist, lev.DAILY_NOTE)]
    note = lev._staleness(ctx, day)
    per = "summed over " + ", ".join(sub_assets) + " (days where each is published)" if len(sub_assets) > 1 else ""
    common = dict(subject=subject, as_of=ctx.as_of, window=window, params=params, note=note)
    qty: dict = {}
    if len(sub_assets) == 1 and not np.isnan(frame["long_qty"][-1]) and not np.isnan(frame["short_qty"][-1]):
        qty = {"long_qty": float(frame["long_qty"][-1]), "short_qty": float(frame["short_qty"][-1]),
               "qty_unit": sub_assets[0]}
    for side, x in (("long", long_usd), ("short", short_usd)):
        out.append(Finding(id=f"liquidations.{side}_usd", value=x, unit="USD",
                           sources=src_for(f"{side}_usd", f"{side}_qty"),
                           method=f"{side} positions liquidated on {day} (USD) {per}".strip(),
                           detail={"date": str(day),
                                   **({"qty": qty.get(f"{side}_qty"), "qty_unit": qty.get("qty_unit")} if qty else {})},
                           unusual=lev._unusual(stats[f"{side}_usd"], p["min_history_days"]), **common))
    out.append(Finding(id="liquidations.total_usd", value=total, unit="USD", sources=src,
                       method=f"long_usd + short_usd on {day} {per}".strip(),
                       detail={"date": str(day), "assets": sub_assets},
                       unusual=lev._unusual(stats["total_usd"], p["min_history_days"]), **common))
    if total > 0:
        out.append(Finding(id="liquidations.long_share_pct", value=round(100.0 * long_usd / total, 2), unit="pct",
                           sources=src, method="100 x long_usd / total_usd", detail={"date": str(day)}, **common))
    else:
        out.append(not_available("liquidations.long_share_pct", ctx.as_of, f"no liquidations on {day}",
                                 subject=subject, unit="pct", window=window))
    s = stats["total_usd"]
    if s["zscore"] is None or s["n"] < p["min_history_days"]:
        out.append(not_available("liquidations.zscore_1y", ctx.as_of,
                                 f"only {s['n']} days of history before {day} (need {p['min_history_days']})",
                                 subject=subject, unit="z", window=window))
    else:
        out.append(Finding(id="liquidations.zscore_1y", value=s["zscore"], unit="z", sources=hist_src,
                           method=f"(total_usd on {day} - mean) / sample std of daily total_usd over the "
                                  f"{p['history_days']} days before it",
                           detail={"date": str(day), "mean_usd": s["mean"], "std_usd": s["std"], "days": s["n"],
                                   "percentile": s["percentile"]},
                           unusual=lev._unusual(s, p["min_history_days"]), **common))
    return out


# derivatives ----------------------------------------------------------------------------------------

def families(ctx: Context, assets: list[str]) -> pd.DataFrame:
    """Per (asset, origin) and derivatives column, how many rows carry it and the latest day that does
    (all rows known at as-of: the family choice looks at the whole history, not the window read)."""
    t = ctx.table("derivatives_daily")
    t = t.filter(t.asset.isin(assets))
    aggs = {}
    for c in DERIV_COLS:
        aggs.update({c: t[c].count(), f"last_{c}": t.date.max(where=t[c].notnull())})
    return t.group_by(["asset", "origin"]).aggregate(**aggs).execute()


def family(fams: pd.DataFrame, w: _Window, asset: str, col: str
           ) -> tuple[np.ndarray, str, bool, np.datetime64 | None]:
    """The rows (a mask) of one origin family carrying `col`: CryptoQuant where any of its rows exists,
    else the single-venue rows, never mixed (as the history chooses it); the note that says which,
    whether it is CryptoQuant, and the family's latest day (None: no row)."""
    f = fams[(fams["asset"] == asset) & (fams[col] > 0)]
    is_cq = f["origin"].map(lambda o: "cryptoquant" in o).to_numpy(dtype=bool)
    cq = bool(is_cq.any())
    rows = (w.asset == asset) & w.notnull(col)
    if cq:
        rows &= w.cq
        f = f[is_cq]
        note = lev.DERIV_NOTE
    else:
        note = lev.SINGLE_VENUE_NOTE.format(origin=", ".join(sorted(f["origin"])) or "-")
    last = pd.to_datetime(f[f"last_{col}"]).max() if len(f) else None
    return rows, note, cq, (None if last is None or pd.isna(last) else np.datetime64(last.date(), "D"))


def derivatives(ctx: Context, p: dict[str, Any]) -> list[Finding]:
    assets = list(p["assets"])
    fams = families(ctx, assets)
    w = _Window(ctx, "derivatives_daily", assets, DERIV_COLS, p["history_days"])
    try:
        return _derivatives(ctx, p, fams, w)
    except _Short:
        return _derivatives(ctx, p, fams, _Window(ctx, "derivatives_daily", assets, DERIV_COLS, 0, full=True))


def _derivatives(ctx: Context, p: dict[str, Any], fams: pd.DataFrame, w: _Window) -> list[Finding]:
    params = lev._params(p, "assets", "history_days", "min_history_days")
    out: list[Finding] = []
    for asset in p["assets"]:
        for fid, (col, method) in lev._DERIV.items():
            rows, note, cq, last = family(fams, w, asset, col)
            oi = fid == "derivatives.open_interest_usd"
            if last is None:
                reason = f"no {col} series for {asset} published by {ctx.as_of_naive:%Y-%m-%dT%H:%MZ}"
                if oi:
                    for win in ("1d", "7d"):
                        out.append(not_available("derivatives.open_interest_change_pct", ctx.as_of, reason,
                                                 subject=asset, unit="pct", window=win))
                out.append(not_available(fid, ctx.as_of, reason, subject=asset, unit=lev._UNITS[fid]))
                continue
            w.need(last - p["history_days"] * _DAY)
            days, v = _daily_max(w.day[rows], w.v[col][rows])
            d = days[-1]
            day = _date(d)
            vals = {_date(k): float(x) for k, x in zip(days[-8:], v[-8:]) if k in (d, d - _DAY, d - 7 * _DAY)}
            x = vals[day]
            stats = _stats(days, {"v": v}, d, {"v": x}, p["history_days"])["v"]
            common = dict(subject=asset, as_of=ctx.as_of, params=params, note=lev._staleness(ctx, day))
            if oi:
                for k in (1, 7):  # 1 d first: the primary window that FindingSet.get returns
                    prev = day - dt.timedelta(days=k)
                    window = f"{k}d:{prev}..{day}"
                    if prev not in vals:
                        out.append(not_available("derivatives.open_interest_change_pct", ctx.as_of,
                                                 f"no open interest for {asset} on {prev}", subject=asset,
                                                 unit="pct", window=window))
                        continue
                    ch = rows & ((w.day == d) | (w.day == d - k * _DAY))
                    out.append(Finding(
                        id="derivatives.open_interest_change_pct", value=round(100.0 * (x / vals[prev] - 1.0), 2),
                        unit="pct", window=window,
                        method=f"100 x (open interest on {day} / open interest on {prev} - 1)",
                        sources=[w.source(ch, note)], detail={"from_usd": vals[prev], "to_usd": x, "days": k},
                        **common))
            out.append(Finding(id=fid, value=x, unit=lev._UNITS[fid], window=f"1d:{day}", method=method,
                               sources=[w.source(rows & (w.day == d), note)], detail={"date": str(day)},
                               unusual=lev._unusual(stats, p["min_history_days"]), **common))
    return out


# series -------------------------------------------------------------------------------------------

def series(ctx: Context, p: dict[str, Any]) -> list[Series]:
    """The brief's charts: the last `chart_days` days of liquidations (all assets summed), BTC open
    interest and funding (from the same reads as the findings)."""
    assets = list(p["assets"])
    w = _Window(ctx, "liquidations_daily", assets, LIQ_COLS, p["history_days"])
    try:
        out = _liquidation_series(w, p)
    except _Short:
        out = _liquidation_series(_Window(ctx, "liquidations_daily", assets, LIQ_COLS, 0, full=True), p)
    assets = assets if "BTC" in assets else [*assets, "BTC"]  # the charts are BTC's
    fams = families(ctx, assets)
    w = _Window(ctx, "derivatives_daily", assets, DERIV_COLS, p["history_days"])
    try:
        return out + _derivative_series(fams, w, p)
    except _Short:
        full = _Window(ctx, "derivatives_daily", assets, DERIV_COLS, 0, full=True)
        return out + _derivative_series(fams, full, p)


def _liquidation_series(w: _Window, p: dict[str, Any]) -> list[Series]:
    assets = list(p["assets"])
    frame = subject_frame(w, assets)
    if not len(frame["day"]):
        w.need(None)
        return []
    d = frame["day"][-1]
    first = d - (p["chart_days"] - 1) * _DAY
    w.need(first)
    k = frame["day"] >= first
    rows = w.of(assets) & w.between(first, d) & w.notnull("long_usd", "short_usd")
    name = lev.combined_name(assets)
    long_usd, short_usd = [float(v) for v in frame["long_usd"][k]], [float(v) for v in frame["short_usd"][k]]
    return [Series(name="leverage.liquidations_daily", title=f"{name} liquidations per day (USD)", unit="USD",
                   x=[str(_date(x)) for x in frame["day"][k]], y=long_usd,
                   sources=[w.source(rows, lev.DAILY_NOTE)],
                   extra={"long_usd": long_usd, "short_usd": short_usd, "subject": name})]


def _derivative_series(fams: pd.DataFrame, w: _Window, p: dict[str, Any]) -> list[Series]:
    out: list[Series] = []
    for col, sname, title in (("open_interest_usd", "leverage.open_interest_daily", "open interest (USD)"),
                              ("funding_rate_pct", "leverage.funding_rate_daily", "funding rate (% per interval)")):
        rows, note, _, last = family(fams, w, "BTC", col)
        if last is None:
            continue
        first = last - (p["chart_days"] - 1) * _DAY
        w.need(first)
        days, v = _daily_max(w.day[rows], w.v[col][rows])
        k = days >= first
        out.append(Series(name=sname, title=f"BTC {title}", unit="USD" if col.endswith("usd") else "pct",
                          x=[str(_date(x)) for x in days[k]], y=[float(x) for x in v[k]],
                          sources=[w.source(rows & w.between(first, last), note)], extra={"subject": "BTC"}))
    return out
