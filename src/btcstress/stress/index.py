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
from typing import Any, Iterable

import ibis
import numpy as np
import pandas as pd

from btcstress.stress.components import FORCES, MEASURES, Measure
from btcstress.store import utc_naive

DEFAULTS: dict[str, Any] = {
    "history_days": 365,  # trailing calendar days each measure is standardised against
    "min_history": 90,  # fewer days of history: the measure is missing at T
    "clip": 8.0,  # |z| cap per measure, so one broken series cannot carry the index alone
    "min_components": 2,  # fewer forces available: the index is not available
    "weights": {f: 1.0 for f in FORCES},  # fixed and equal: no force is known to matter more
    "start": "2018-01-01",  # first day of the default history (charts, episodes' candidates)
}
IQR_TO_SIGMA = 1.349  # IQR of a standard normal: makes the robust score comparable to a z-score


def end_of_days(first: dt.date, last: dt.date) -> list[dt.datetime]:
    """The daily grid: each UTC day's end (the next day's 00:00), naive UTC."""
    days = pd.date_range(first, last, freq="D")
    return [(d + pd.Timedelta(days=1)).to_pydatetime() for d in days]


def _offsets(n: int) -> ibis.Table:
    """0..n as a table: the day offsets the calendar is joined on (equi-joins, not range joins)."""
    return ibis.memtable(pd.DataFrame({"k": np.arange(n + 1, dtype="int64")}))


def _measure_stats(m: Measure, store, cal: ibis.Table, upto: dt.datetime, p: dict) -> ibis.Table:
    s = m.build(store)
    s = s.filter(s.available_at <= upto)
    # The value at T: the latest day in [T's date - stale_days, T's date] known at T.
    near = cal.cross_join(_offsets(m.stale_days))
    near = near.mutate(d=(near.day - near.k.as_interval("D")).cast("date"))
    j = near.join(s, near.d == s.date)
    j = j.filter((j.available_at <= j.t) & (j.valid_until.isnull() | (j.valid_until > j.t)))
    j = j.mutate(rn=ibis.row_number().over(group_by=j.t, order_by=[j.date.desc(), j.available_at.desc()]))
    cur = j.filter(j.rn == 0).select(t=j.t, cdate=j.date, cval=j.value, corigin=j.origin, cavail=j.available_at)
    # Its history: the days [cdate - history_days, cdate) as known at T (the vintage valid at T).
    back = cur.select("t", "cdate").cross_join(_offsets(int(p["history_days"])).filter(lambda o: o.k > 0))
    back = back.mutate(hd=(back.cdate - back.k.as_interval("D")).cast("date"))
    h = s.select(hdate=s.date, hval=s.value, havail=s.available_at, hvalid=s.valid_until)
    hist = back.join(h, back.hd == h.hdate)
    hist = hist.filter((hist.havail <= hist.t) & (hist.hvalid.isnull() | (hist.hvalid > hist.t)))
    g = hist.group_by("t").aggregate(q=hist.hval.quantile([0.25, 0.5, 0.75]), n=hist.count(),
                                     hfirst=hist.hdate.min(), hlast=hist.hdate.max())
    g = g.mutate(q25=g.q[0], median=g.q[1], q75=g.q[2]).drop("q")
    g = g.rename(gt="t")
    stats = cur.left_join(g, cur.t == g.gt).drop("gt")  # a value with no history at all is kept (n = 0)
    return stats.mutate(measure=ibis.literal(m.name))


def measures_frame(store, instants: Iterable[dt.datetime], params: dict | None = None) -> pd.DataFrame:
    """One row per (instant, measure) present at it: value, history median/quartiles/n, score `z`."""
    p = {**DEFAULTS, **(params or {})}
    ts = sorted({utc_naive(t) if t.tzinfo else t for t in instants})
    if not ts:
        return pd.DataFrame()
    cal = ibis.memtable(pd.DataFrame({"t": pd.to_datetime(ts)}))
    cal = cal.mutate(day=cal.t.cast("date"))
    # A day's rows are published at its end (next day 00:00), so `day` includes T's own date only when
    # a source published it intraday; the join condition `available_at <= T` decides.
    exprs = [_measure_stats(m, store, cal, ts[-1], p) for m in MEASURES]
    df = store.ibis.execute(ibis.union(*exprs)) if len(exprs) > 1 else exprs[0].execute()
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
