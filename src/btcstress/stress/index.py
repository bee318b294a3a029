"""The stress index as a point-in-time series over a calendar of instants, set-based.

For every instant T of the calendar and every measure (`components.MEASURES`), one query:
1. the value at T: the measure's latest day published by T (`available_at <= T`, and for revised data
   the vintage valid at T), no older than the measure's `stale_days` before T's date;
2. its trailing history: the measure's days in [that day - history_days, that day) as known at T;
3. a robust standard score: z = sign × (value - median) / (IQR / 1.349), clipped to ±`clip`, and only
   with at least `min_history` days of history (else the measure is missing at T).
All measures of all instants are one Ibis query (joins of the calendar with each measure, grouped by
instant), so a history of 3,000 days costs about what one instant does. A snapshot is the same query
with a one-instant calendar: `stress.index` at T is, by construction, the series at T.

A force's component is the mean of its measures' scores available at T; the index is the weighted
mean of the components available at T (fixed weights, `DEFAULTS["weights"]`, renormalised over the
components present), and says how many it used. Missing components are never filled.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import sys
from pathlib import Path
from typing import Any, Iterable

import ibis
import numpy as np
import pandas as pd

from btcstress.stress.components import FORCES, MEASURES, Measure
from btcstress.stress.params import DEFAULTS as _ALL
from btcstress.store import utc_naive

DEFAULTS: dict[str, Any] = {k: v for k, v in _ALL.items() if not k.startswith("episodes_")}
IQR_TO_SIGMA = 1.349  # IQR of a standard normal: makes the robust score comparable to a z-score


def end_of_days(first: dt.date, last: dt.date) -> list[dt.datetime]:
    """The daily grid: each UTC day's instant (schema.day_published: the next day's 07:00), naive UTC."""
    from btcstress.schema import day_published
    return [day_published(d.date()) for d in pd.date_range(first, last, freq="D")]


def _current(m: Measure, s: ibis.Table, cal: ibis.Table, off: ibis.Table) -> ibis.Table:
    """The value at each T: the latest day in [T's date - stale_days, T's date] known at T."""
    near = cal.cross_join(off.filter(off.k <= m.stale_days))
    near = near.mutate(d=(near.day - near.k.as_interval("D")).cast("date"))
    j = near.join(s, near.d == s.date)
    j = j.filter((j.available_at <= j.t) & (j.valid_until.isnull() | (j.valid_until > j.t)))
    j = j.mutate(rn=ibis.row_number().over(group_by=j.t, order_by=[j.date.desc(), j.available_at.desc()]))
    return j.filter(j.rn == 0).select(t=j.t, cdate=j.date, cval=j.value, corigin=j.origin, cavail=j.available_at)


def _history_per_day(s: ibis.Table, hd: int, m: Measure, cal: ibis.Table) -> ibis.Table:
    """Fast path: the trailing window of each day as FINALLY known (rows never superseded), one window
    function. Also the latest publication in the window, to tell when that equals the window known at T.
    Only the rows a window of the calendar can reach enter it: a day the instants can take is within
    [first day - stale_days, last day], and its window starts at most `hd` days before (the windows of
    those days are unchanged; the price and miners' series start in 2009, the chart in 2018)."""
    lo = (cal.day.min() - ibis.interval(days=m.stale_days + hd)).as_scalar()
    f = s.filter(s.valid_until.isnull() & (s.date >= lo) & (s.date <= cal.day.max().as_scalar()))
    w = ibis.window(order_by=f.date, range=(-ibis.interval(days=hd), -ibis.interval(days=1)))
    ws = f.select(wdate=f.date, q=f.value.quantile([0.25, 0.5, 0.75]).over(w), n=f.value.count().over(w),
                  hfirst=f.date.min().over(w), hlast=f.date.max().over(w), wavail=f.available_at.max().over(w))
    ws = ws.distinct(on="wdate")
    return ws.mutate(q25=ws.q[0], median=ws.q[1], q75=ws.q[2]).drop("q")


def _history_per_instant(s: ibis.Table, cur: ibis.Table, off: ibis.Table, hd: int) -> ibis.Table:
    """Exact path: the window as known at each T (the vintage valid at T), one join per instant's days."""
    back = cur.select("t", "cdate").cross_join(off.filter((off.k > 0) & (off.k <= hd)))
    back = back.mutate(hd=(back.cdate - back.k.as_interval("D")).cast("date"))
    h = s.select(hdate=s.date, hval=s.value, havail=s.available_at, hvalid=s.valid_until)
    hist = back.join(h, back.hd == h.hdate)
    hist = hist.filter((hist.havail <= hist.t) & (hist.hvalid.isnull() | (hist.hvalid > hist.t)))
    g = hist.group_by("t").aggregate(q=hist.hval.quantile([0.25, 0.5, 0.75]), n=hist.count(),
                                     hfirst=hist.hdate.min(), hlast=hist.hdate.max())
    g = g.mutate(q25=g.q[0], median=g.q[1], q75=g.q[2]).drop("q").rename(gt="t")
    return cur.left_join(g, cur.t == g.gt).drop("gt")  # a value with no history at all is kept (n = 0)


def _measure_stats(m: Measure, store, cal: ibis.Table, off: ibis.Table, p: dict, exact: bool) -> ibis.Table:
    """Per instant: the measure's value and its trailing history's median, quartiles and size, as known
    at T. Most instants take the fast path (the window as finally known equals the window known at T
    when every row in it was published by T and no superseded row in it was still valid at T); the
    others, e.g. just after an ETF day's preliminary vintage, take the exact per-instant join. With
    `exact` (a short calendar: a snapshot) every instant takes the exact join: the fast path's window
    over every day of the measure costs more than a few instants' joins, and both give the same rows."""
    hd = int(p["history_days"])
    s = m.build(store)
    cur = _current(m, s, cal, off)
    if exact:
        slow = _history_per_instant(s, cur, off, hd)
        slow = slow.select("t", "cdate", "cval", "corigin", "cavail", "n", "hfirst", "hlast", "q25", "median", "q75")
        return slow.mutate(measure=ibis.literal(m.name))
    ws = _history_per_day(s, hd, m, cal)
    # superseded rows that were valid for a while (revised vintages); a flagged value never was
    sup = s.filter(s.valid_until.notnull() & (s.valid_until > s.available_at))
    sup = sup.select(sdate=sup.date, savail=sup.available_at, svalid=sup.valid_until)
    c2 = cur.select(ct=cur.t, cd=cur.cdate)
    mixed = c2.join(sup, (sup.sdate < c2.cd) & (sup.sdate >= c2.cd - ibis.interval(days=hd))
                    & (sup.savail <= c2.ct) & (sup.svalid > c2.ct)).select(mt=c2.ct).distinct()
    fast = cur.join(ws, cur.cdate == ws.wdate)
    fast = fast.filter(fast.wavail.isnull() | (fast.wavail <= fast.t))
    fast = fast.anti_join(mixed, fast.t == mixed.mt)
    fast = fast.select("t", "cdate", "cval", "corigin", "cavail", "n", "hfirst", "hlast", "q25", "median", "q75")
    done = fast.select(ft=fast.t)
    slow = _history_per_instant(s, cur.anti_join(done, cur.t == done.ft), off, hd)
    slow = slow.select("t", "cdate", "cval", "corigin", "cavail", "n", "hfirst", "hlast", "q25", "median", "q75")
    return ibis.union(fast, slow).mutate(measure=ibis.literal(m.name))


def _frame_expr(store, cal: ibis.Table, off: ibis.Table, p: dict, exact: bool) -> ibis.Table:
    # A day's rows are published at its end (next day 00:00), so `day` includes T's own date only when
    # a source published it intraday; the join condition `available_at <= T` decides.
    cal = cal.mutate(day=cal.t.cast("date"))
    return ibis.union(*[_measure_stats(m, store, cal, off, p, exact) for m in MEASURES])


_SQL: dict[tuple, str] = {}  # compiled query per parameter set (DuckDB): compiling costs more than running
# Calendars shorter than this take the exact per-instant path for every instant (`_measure_stats`).
# Measured for one instant (a snapshot), 2026-12-02: 0.13 s CPU against 0.35 s with the fast path.
EXACT_BELOW = 8


def _execute(store, cal_df: pd.DataFrame, p: dict) -> pd.DataFrame:
    """Run the query for a calendar. On DuckDB the query is compiled once per parameter set against two
    named inputs (the calendar and the day offsets), registered for the run; elsewhere (Spark) the same
    expression runs with in-memory tables."""
    kmax = max(int(p["history_days"]), *(m.stale_days for m in MEASURES))
    off_df = pd.DataFrame({"k": np.arange(kmax + 1, dtype="int64")})
    exact = len(cal_df) < EXACT_BELOW
    con = getattr(store.ibis, "con", None)
    if not hasattr(con, "register"):
        return store.ibis.execute(_frame_expr(store, ibis.memtable(cal_df), ibis.memtable(off_df), p, exact))
    key = repr(sorted((k, repr(v)) for k, v in p.items())) + ("|exact" if exact else "")
    if key not in _SQL:
        _SQL[key] = _compiled(store, p, key, exact)
    if getattr(store, "reads", None) is not None:  # history.reads_of: the compiled query names its tables
        _frame_expr(store, *_named_inputs(), p, exact)  # only in SQL, so they are read as it is built
    con.register("_stress_calendar", cal_df)
    con.register("_stress_offsets", off_df)
    try:
        return con.execute(_SQL[key]).df()
    finally:
        con.unregister("_stress_calendar")
        con.unregister("_stress_offsets")


def _named_inputs() -> tuple[ibis.Table, ibis.Table]:
    """The calendar and the day offsets as named tables, registered by `_execute` for each run."""
    return (ibis.table({"t": "timestamp"}, name="_stress_calendar"),
            ibis.table({"k": "int64"}, name="_stress_offsets"))


def _compiled(store, p: dict, key: str, exact: bool) -> str:
    """The DuckDB SQL of the query for parameters `p`. Compiling it takes Ibis ~1.5 s of CPU, more than
    running it, so it is also kept on disk (BTCSTRESS_CACHE, else $XDG_CACHE_HOME/btcstress), named by a
    hash of everything it depends on: the parameters, the code that builds it, the schema and Ibis's
    version. A stale file cannot be read back (any change gives another name); an unwritable cache is
    skipped."""
    from btcstress import schema
    from btcstress.stress import components
    src = "".join(Path(mod.__file__).read_text() for mod in (components, schema, sys.modules[__name__]))
    digest = hashlib.sha256(f"{key}|{ibis.__version__}|{src}".encode()).hexdigest()[:24]
    root = Path(os.environ.get("BTCSTRESS_CACHE") or Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
                / "btcstress")
    path = root / f"stress-{digest}.sql"
    if path.is_file():
        return path.read_text()
    sql = ibis.to_sql(_frame_expr(store, *_named_inputs(), p, exact), dialect="duckdb")
    try:
        root.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(sql)
        tmp.replace(path)  # atomic: a reader sees the whole query or none
    except OSError:
        pass
    return sql


DEDUPE_FROM = 500  # instants: from here on, instants that know the same rows are computed once


def _moments(store) -> np.ndarray:
    """Every instant at which what the measures know can change (a row published, a vintage superseded,
    a value flagged), sorted."""
    parts = []
    for m in MEASURES:
        s = m.build(store)
        parts += [s.select(x=s.available_at.cast("timestamp")),
                  s.filter(s.valid_until.notnull()).select(x=s.valid_until.cast("timestamp"))]
    df = store.ibis.execute(ibis.union(*parts, distinct=True))
    return np.sort(pd.to_datetime(df.x).to_numpy(dtype="datetime64[us]"))


def _by_knowledge_state(store, T: pd.DatetimeIndex, p: dict) -> pd.DataFrame:
    """The query's rows for the instants T. Two instants of the same UTC day with no change between them
    (no row published, superseded or flagged) know exactly the same rows and have the same staleness
    limits, so on a long calendar (an hourly grid) each such group is computed once, at its first
    instant, and its rows are given to the others: the result is the same as computing every instant.
    Grouping costs a query of its own over every measure's whole history (`_moments`), worth it only when
    instants share days (an hourly grid: 24 a day); a day-end calendar (the chart's: one instant a day,
    and as-of) is computed as it is."""
    if len(T) < DEDUPE_FROM or T.normalize().nunique() * 2 > len(T):
        return _execute(store, pd.DataFrame({"t": T}), p)
    moments = _moments(store)
    pos = np.searchsorted(moments, T.to_numpy(dtype="datetime64[us]"), side="right")
    groups = pd.DataFrame({"t": T, "key": pos, "day": T.normalize()})
    groups["rep"] = groups.groupby(["key", "day"]).t.transform("min")
    reps = pd.DataFrame({"t": pd.DatetimeIndex(groups.rep.unique())})
    df = _execute(store, reps, p)
    if df.empty:
        return df
    df = df.rename(columns={"t": "rep"})
    df["rep"] = pd.to_datetime(df["rep"]).astype("datetime64[us]")
    groups["rep"] = groups["rep"].astype("datetime64[us]")
    out = groups[["t", "rep"]].merge(df, on="rep").drop(columns="rep")
    out["t"] = pd.to_datetime(out["t"]).astype("datetime64[us]")
    return out


def measures_frame(store, instants: Iterable[dt.datetime], params: dict | None = None) -> pd.DataFrame:
    """One row per (instant, measure) present at it: value, history median/quartiles/n, score `z`."""
    p = {**DEFAULTS, **(params or {})}
    ts = sorted({utc_naive(t) if t.tzinfo else t for t in instants})
    if not ts:
        return pd.DataFrame()
    df = _by_knowledge_state(store, pd.DatetimeIndex(pd.to_datetime(ts)), p)
    if df.empty:
        return df
    df["n"] = df["n"].fillna(0).astype(int)
    sign = df.measure.map({m.name: m.sign for m in MEASURES})
    scale = (df.q75 - df.q25) / IQR_TO_SIGMA
    ok = (df.n >= int(p["min_history"])) & (scale > 0)
    z = sign * (df.cval - df["median"]) / scale.where(scale > 0)
    df["z"] = z.clip(-p["clip"], p["clip"]).where(ok)
    df["force"] = df.measure.map({m.name: m.force for m in MEASURES})
    return df.sort_values(["t", "measure"]).reset_index(drop=True)


def combine(measures: pd.DataFrame, params: dict | None = None) -> pd.DataFrame:
    """Per instant: each force's component (mean of its measures' z), the index, n components used."""
    p = {**DEFAULTS, **(params or {})}
    scored = measures.dropna(subset=["z"]) if len(measures) else measures
    if scored.empty:
        return pd.DataFrame(columns=["t", "index", "n_components", *FORCES])
    comp = scored.pivot_table(index="t", columns="force", values="z", aggfunc="mean")
    comp = comp.reindex(columns=list(FORCES))
    weights = pd.Series({f: float(p["weights"].get(f, 0.0)) for f in FORCES})
    present = comp.notna() & (weights > 0)
    wsum = present.mul(weights).sum(axis=1)
    index = comp.fillna(0).mul(weights).sum(axis=1) / wsum.where(wsum > 0)
    n = present.sum(axis=1)
    out = comp.copy()
    out["n_components"] = n
    out["index"] = index.where(n >= int(p["min_components"]))
    return out.reset_index()


def history(store, first: dt.date, last: dt.date, params: dict | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The index at each day's end from `first` to `last`: (combined frame, per-measure frame)."""
    m = measures_frame(store, end_of_days(first, last), params)
    return combine(m, params), m


def components_matrix(frame: pd.DataFrame) -> np.ndarray:
    return frame[list(FORCES)].to_numpy(dtype=float)
