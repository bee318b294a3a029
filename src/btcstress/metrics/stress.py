"""The stress area: `stress.index` and `stress.component.<force>`, series-first.

`findings_series(store, instants)` builds the findings of every instant from ONE set-based query
(`stress/index.py`); the snapshot `findings(ctx)` is that function with the one instant `ctx.as_of`,
so the finding at T is the series at T by construction. Definitions: docs/METRICS.md#stress.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Iterable

import numpy as np
import pandas as pd

from btcstress.findings import Finding, Series, Source, not_available
from btcstress.metrics.context import Context
from btcstress.stress import episodes as _ep
from btcstress.stress import index
from btcstress.stress import params as _params
from btcstress.stress.components import FORCE_NAMES, FORCES, MEASURES

# The index's parameters and the episodes' (prefixed `episodes_`), one namespace: `--param stress.NAME=V`.
DEFAULTS: dict[str, Any] = dict(_params.DEFAULTS)
_BY_NAME = {m.name: m for m in MEASURES}
# Every id this area emits, written out once (a public contract; `declared.finding_ids` reads them).
IDS = ("stress.index", "stress.component.price", "stress.component.market", "stress.component.miners",
       "stress.component.etf", "stress.component.leverage", "stress.component.treasuries",
       "stress.index_highest_since", "stress.episode", "stress.episodes.forward_return_pct")
assert {f"stress.component.{f}" for f in FORCES} <= set(IDS)
INDEX_METHOD = ("weighted mean of the forces' components available at T (fixed weights, renormalised over those "
                "present); each component is the mean of its measures' robust scores: sign × (value − median) / "
                "(IQR / 1.349) against the measure's own trailing history known at T, clipped")


NO_MEASURE = "no measure of this force published within its staleness limit by as-of"


def _no_history(p: dict) -> str:
    return f"no usable history for its measures (fewer than {p['min_history']} days, or no spread)"


def findings(ctx: Context) -> list[Finding]:
    """The stress findings at `ctx.as_of`. With series (the dashboard, the brief) they are the as-of row of
    the day-end history the chart needs (`_frames`: one query for both); alone, a one-instant query."""
    p = ctx.area_params("stress", DEFAULTS)
    if ctx.with_series:
        comb, measures = _frames(ctx, p)
        return at_instant(ctx.as_of, comb, measures, p)
    return findings_series(ctx.store, [ctx.as_of], p)[_key(ctx.as_of)]


def _frames(ctx: Context, p: dict) -> tuple[pd.DataFrame, pd.DataFrame]:
    """`daily_with` once per computation (findings, episodes and the chart read it; callers only filter)."""
    key = ("stress:daily_with", repr(sorted((k, repr(v)) for k, v in p.items())))
    return ctx.reuse(key, lambda: daily_with(ctx.store, ctx.as_of, p))


def at_instant(as_of: dt.datetime, comb: pd.DataFrame, measures: pd.DataFrame, p: dict) -> list[Finding]:
    """The findings at as-of from frames holding its row (`daily_with`'s): what `findings_series` gives
    there (tests hold the two equal)."""
    t = pd.Timestamp(_key(as_of))
    rows = measures[measures.t == t] if len(measures) else None
    now = comb[comb.t == t] if len(comb) else comb
    return _at(_key(as_of), rows if rows is not None and len(rows) else None,
               now.iloc[0] if len(now) else None, p)


def findings_series(store, instants: Iterable[dt.datetime], params: dict[str, Any] | None = None
                    ) -> dict[dt.datetime, list[Finding]]:
    """The stress findings at each instant (naive-UTC keys), from one query over all of them."""
    p = {**DEFAULTS, **(params or {})}
    keys = sorted({_key(t) for t in instants})
    measures = index.measures_frame(store, keys, p)
    combined = index.combine(measures, p).set_index("t") if len(measures) else pd.DataFrame()
    by_t = {t: g for t, g in measures.groupby("t")} if len(measures) else {}
    return {t: _at(t, by_t.get(pd.Timestamp(t)), combined.loc[pd.Timestamp(t)]
                   if pd.Timestamp(t) in combined.index else None, p) for t in keys}


def _key(t: dt.datetime) -> dt.datetime:
    if t.tzinfo is not None:
        t = t.astimezone(dt.timezone.utc).replace(tzinfo=None)
    return t


def _as_of(t: dt.datetime) -> dt.datetime:
    return t.replace(tzinfo=dt.timezone.utc)


def _source(row) -> Source:
    m = _BY_NAME[row.measure]
    return Source(table=m.table, origin=str(row.corigin), rows=int(row.n) + 1,
                  first=pd.Timestamp(row.hfirst).to_pydatetime(), last=pd.Timestamp(row.cdate).to_pydatetime(),
                  note=f"{m.name}: day {pd.Timestamp(row.cdate).date()} and its {int(row.n)}-day history")


def _measure_detail(row) -> dict[str, Any]:
    m = _BY_NAME[row.measure]
    scale = (row.q75 - row.q25) / index.IQR_TO_SIGMA
    return {"measure": m.name, "method": m.method, "unit": m.unit, "date": str(pd.Timestamp(row.cdate).date()),
            "value": float(row.cval), "median": float(row["median"]), "scale": float(scale),
            "history_days": int(row.n), "sign": m.sign, "z": None if pd.isna(row.z) else round(float(row.z), 4)}


def _at(t: dt.datetime, rows: pd.DataFrame | None, comb, p: dict) -> list[Finding]:
    as_of = _as_of(t)
    weights = {f: float(p["weights"].get(f, 0.0)) for f in FORCES}
    rows = rows if rows is not None else pd.DataFrame(columns=["force", "z"])
    comps: list[Finding] = []
    present: dict[str, float] = {}
    for force in FORCES:
        fid = f"stress.component.{force}"
        mine = rows[rows.force == force]
        scored = mine.dropna(subset=["z"])
        if scored.empty:
            why = NO_MEASURE if mine.empty else _no_history(p)
            comps.append(not_available(fid, as_of, why, unit="z", window="1d",
                                       method=f"{FORCE_NAMES[force]}: mean of its measures' robust scores"))
            continue
        value = float(comb[force]) if comb is not None else float(scored.z.mean())
        present[force] = value
        days = sorted({str(pd.Timestamp(d).date()) for d in scored.cdate})
        comps.append(Finding(
            id=fid, value=round(value, 4), unit="z", as_of=as_of, window=f"1d:{days[-1]}",
            method=f"{FORCE_NAMES[force]}: mean of its measures' robust scores (sign × (value − median) / "
                   f"(IQR / 1.349), trailing {p['history_days']} days known at T, clipped to ±{p['clip']})",
            params={k: p[k] for k in ("history_days", "min_history", "clip")},
            sources=[_source(r) for _, r in scored.iterrows()],
            detail={"force": FORCE_NAMES[force], "weight": weights[force],
                    "measures": [_measure_detail(r) for _, r in mine.iterrows()]}))
    used = [f for f in FORCES if f in present and weights[f] > 0]
    wsum = sum(weights[f] for f in used)
    contributions = {f: round(weights[f] * present[f] / wsum, 4) for f in used} if wsum else {}
    missing = [f for f in FORCES if f not in present]
    detail = {"n_components": len(used), "components": {f: round(present[f], 4) for f in used},
              "contributions": contributions, "weights": weights, "missing": missing}
    if comb is None or pd.isna(comb["index"]):
        out = not_available("stress.index", as_of, f"{len(used)} of {len(FORCES)} forces available at as-of, fewer "
                            f"than {p['min_components']}", unit="z", window="1d", method=INDEX_METHOD)
        out.detail = detail
        return [out, *comps]
    index_f = Finding(
        id="stress.index", value=round(float(comb["index"]), 4), unit="z", as_of=as_of,
        window=max(c.window for c in comps if c.value is not None), method=INDEX_METHOD,
        params={k: p[k] for k in ("history_days", "min_history", "clip", "min_components", "weights")},
        sources=[s for c in comps for s in c.sources], detail=detail,
        note=(f"{len(used)} of {len(FORCES)} forces; not available: "
              f"{', '.join(FORCE_NAMES[f] for f in missing)}") if missing else None)
    return [index_f, *comps]


def daily_with(store, as_of: dt.datetime, params: dict) -> tuple[pd.DataFrame, pd.DataFrame]:
    """One query: the components at each day's end from `start` through as-of's last complete day, and at
    as-of itself (combined frame, per-measure frame). The row at as-of is what `findings` gives."""
    t = _key(as_of)
    first = dt.date.fromisoformat(str(params["start"]))
    last_day = (t - dt.timedelta(days=1)).date()
    grid = [g for g in index.end_of_days(first, last_day) if g < t] if last_day >= first else []
    measures = _day_ends_and(store, grid, t, params)
    return index.combine(measures, params), measures


def _day_ends_and(store, grid: list[dt.datetime], t: dt.datetime, params: dict) -> pd.DataFrame:
    """`measures_frame` at the day ends `grid` and at `t`. Each instant's rows depend only on the rows known
    at it, so on a store whose rows cannot change while open (read-only DuckDB: `Store.keep`) the day ends
    already computed for an earlier instant are reused and only the new ones (none within a day, one a
    day after) are queried with `t`: the sweep and a dashboard stepping through hours then pay ~0.1 s,
    not ~0.3 s, for this frame. The result equals the whole query's (tests/stress/test_series.py)."""
    kept = getattr(store, "kept", None)
    if kept is None or not grid:
        return index.measures_frame(store, [*grid, t], params)
    key = ("stress:day_ends", repr(sorted((k, repr(v)) for k, v in params.items())))
    known_grid, known = kept(key) or ((), None)
    if known is not None and tuple(grid[:len(known_grid)]) == known_grid:  # the grid extends (or is) the kept one
        new = grid[len(known_grid):]
    elif known is not None and known_grid[:len(grid)] == tuple(grid):  # an earlier instant: a prefix of it
        part = known[known.t <= pd.Timestamp(grid[-1])] if len(known) else known
        now = index.measures_frame(store, [t], params)
        return _joined(part, now)
    else:  # nothing kept, or kept for other day ends
        known, new = None, grid
    fresh = index.measures_frame(store, [*new, t], params)
    at_t = fresh[fresh.t == pd.Timestamp(t)] if len(fresh) else fresh
    part = fresh[fresh.t < pd.Timestamp(t)] if len(fresh) else fresh
    part = part if known is None else _joined(known, part)
    store.keep(key, (tuple(grid), part))
    return _joined(part, at_t)


def _joined(a: pd.DataFrame, b: pd.DataFrame) -> pd.DataFrame:
    """Two `measures_frame` results as one, in its order (by instant, then measure)."""
    if not len(b):
        return a.reset_index(drop=True)
    if not len(a):
        return b.reset_index(drop=True)
    return pd.concat([a, b], ignore_index=True).sort_values(["t", "measure"]).reset_index(drop=True)


def episodes(store, as_of: dt.datetime, params: dict[str, Any] | None = None, *, k: int | None = None,
             frames: tuple[pd.DataFrame, pd.DataFrame] | None = None) -> list[Finding]:
    """The episode findings as of `as_of` (see stress/episodes.py)."""
    ep = _ep
    p = {**DEFAULTS, **(params or {})}
    comb, measures = frames or daily_with(store, as_of, p)
    t = pd.Timestamp(_key(as_of))
    now = comb[comb.t == t]
    ep_params = {key: p.get(f"episodes_{key}", v) for key, v in ep.DEFAULTS.items()}
    if k is not None:
        ep_params["k"] = k
    cand = comb[(comb.t < t)].dropna(subset=["index"])
    return ep.findings(store, as_of, now.iloc[0] if len(now) else None, cand, measures[measures.t < t],
                       ep_params)


def highest_since(comb: pd.DataFrame, as_of: dt.datetime, params: dict,
                  sources: list[Source] | None = None) -> Finding:
    """`stress.index_highest_since`: the last day (before as-of's own day) whose index was at least as-of's,
    and the share of days since `start` at or below it."""
    t = pd.Timestamp(_key(as_of))
    now = comb[comb.t == t]
    method = ("the latest day-end before as-of's day whose stress index was >= as-of's; percentile: share of "
              f"day-ends since {params['start']} with an index <= as-of's")
    if now.empty or pd.isna(now["index"].iloc[0]):
        return not_available("stress.index_highest_since", _as_of(t.to_pydatetime()), "the stress index is not "
                             "available at as-of", unit="date", method=method)
    value = float(now["index"].iloc[0])
    past = comb[(comb.t <= t - pd.Timedelta(days=1))].dropna(subset=["index"])
    if past.empty:
        return not_available("stress.index_highest_since", _as_of(t.to_pydatetime()), f"no earlier day-end with the "
                             f"stress index since {params['start']}", unit="date", method=method)
    higher = past[past["index"] >= value]
    record = higher.empty
    day = (past.t.min() if record else higher.t.max()) - pd.Timedelta(days=1)
    pct = 100.0 * float((past["index"] <= value).mean())
    return Finding(id="stress.index_highest_since", value=str(day.date()), unit="date",
                   as_of=_as_of(t.to_pydatetime()), window=f"since:{params['start']}", method=method,
                   sources=sources or [],
                   detail={"index": round(value, 4), "highest_on_record": record, "days": len(past),
                           "percentile": round(pct, 2), "from": str(params["start"])})


def _sources(comb: pd.DataFrame, measures: pd.DataFrame) -> list[Source]:
    """The rows behind the index's days in `comb`: one source per measure."""
    if comb.empty:
        return []
    origins = measures.groupby("measure").corigin.agg(lambda o: "; ".join(sorted(o.unique())))
    rows = measures.measure.value_counts()
    first, last = pd.Timestamp(comb.t.min()).to_pydatetime(), pd.Timestamp(comb.t.max()).to_pydatetime()
    return [Source(table=m.table, origin=origins[m.name], rows=int(rows[m.name]), first=first, last=last,
                   note=m.name) for m in MEASURES if m.name in rows.index]


def series(ctx: Context) -> list[Series]:
    """The index at each day's end since `start` (the brief's chart). With series (the brief, the
    dashboard) the area also adds the episode findings to `ctx.findings`: they need the same history,
    computed here once."""
    p = ctx.area_params("stress", DEFAULTS)
    comb, measures = _frames(ctx, p)
    ctx.findings.extend(episodes(ctx.store, ctx.as_of, p, frames=(comb, measures)))
    ctx.findings.append(highest_since(comb, ctx.as_of, p, _sources(comb.dropna(subset=["index"]), measures)))
    t = pd.Timestamp(ctx.as_of_naive)
    comb = comb[comb.t < t].dropna(subset=["index"]) if t.time() != dt.time(0) else comb.dropna(subset=["index"])
    if comb.empty:
        return []
    sources = _sources(comb, measures)
    return [Series(name="stress.index_daily", title=f"Stress index at each day's end since {p['start']}", unit="z",
                   x=[pd.Timestamp(x).isoformat() + "Z" for x in comb.t], y=[round(float(v), 4) for v in comb["index"]],
                   sources=sources, extra={"n_components": [int(n) for n in comb.n_components]})]


HISTORY_NEEDS: tuple[str, ...] = ()  # reads the tables, not another area's findings
# Where the definitions live: a change there makes the stored history stale (materialize.version).
HISTORY_CODE = ("btcstress.stress.components", "btcstress.stress.index", "btcstress.stress.params")


def history(hctx) -> pd.DataFrame:
    """The history engine's series-first protocol: every stress finding at every instant of the
    calendar from one query, with the value, window and note `findings` gives at that instant."""
    from btcstress.history import COLUMNS
    p = {**DEFAULTS, **hctx.params.get("stress", {})}
    return history_rows(hctx.store, hctx.instants, p)[COLUMNS]


def _round(v) -> float:
    return round(float(v), 4) if pd.notna(v) else float("nan")


def history_rows(store, instants: Iterable[dt.datetime], params: dict[str, Any] | None = None) -> pd.DataFrame:
    """`stress.index` and `stress.component.<force>` at each instant as rows (as_of, id, subject, value,
    value_text, unit, window, kind, note, zscore, percentile), vectorised; `_at` words the same rules
    for one instant with full provenance, and tests hold the two equal."""
    p = {**DEFAULTS, **(params or {})}
    T = pd.DatetimeIndex(pd.to_datetime(sorted({_key(t) for t in instants})))
    m = index.measures_frame(store, list(T.to_pydatetime()), p)
    comb = index.combine(m, p).set_index("t").reindex(T) if len(m) else pd.DataFrame(index=T, columns=[*FORCES, "index"])
    has = (m.groupby(["t", "force"]).size().unstack().reindex(index=T, columns=list(FORCES)).notna() if len(m)
           else pd.DataFrame(False, index=T, columns=list(FORCES)))
    sc = m.dropna(subset=["z"]) if len(m) else m
    last = (sc.groupby(["t", "force"]).cdate.max().unstack().reindex(index=T, columns=list(FORCES)) if len(sc)
            else pd.DataFrame(index=T, columns=list(FORCES)))
    weights = {f: float(p["weights"].get(f, 0.0)) for f in FORCES}
    out = []
    for force in FORCES:
        scored = comb[force].notna()
        out.append(pd.DataFrame({
            "as_of": T, "id": f"stress.component.{force}", "value": comb[force].map(_round).to_numpy(),
            "window": np.where(scored, "1d:" + pd.to_datetime(last[force]).dt.strftime("%Y-%m-%d").fillna(""), "1d"),
            "note": np.where(scored, None, np.where(has[force], "not available: " + _no_history(p),
                                                      "not available: " + NO_MEASURE))}))
    present = comb[list(FORCES)].notna()
    used = present & pd.Series(weights).gt(0)
    n = used.sum(axis=1)
    latest = last.where(present).max(axis=1)
    missing = present.apply(lambda r: ", ".join(FORCE_NAMES[f] for f in FORCES if not r[f]), axis=1)
    ok = comb["index"].notna()
    note_ok = np.where(missing != "", n.astype(str) + f" of {len(FORCES)} forces; not available: " + missing, None)
    note_na = "not available: " + n.astype(str) + f" of {len(FORCES)} forces available at as-of, fewer than " \
        f"{p['min_components']}"
    out.insert(0, pd.DataFrame({
        "as_of": T, "id": "stress.index", "value": comb["index"].map(_round).to_numpy(),
        "window": np.where(ok, "1d:" + pd.to_datetime(latest).dt.strftime("%Y-%m-%d").fillna(""), "1d"),
        "note": np.where(ok, note_ok, note_na)}))
    rows = pd.concat(out, ignore_index=True)
    rows["note"] = rows["note"].astype(object).where(rows["note"].notna(), None)
    rows = rows.assign(subject="BTC", value_text=None, unit="z", kind="computed", zscore=float("nan"),
                       percentile=float("nan"))
    return rows.sort_values("as_of", kind="stable", ignore_index=True)
