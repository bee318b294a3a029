"""Leverage findings as point-in-time series (the `history` of btcstress.metrics.leverage).

The daily series (liquidations, open interest, funding, leverage ratio) are published a day at a
time. At instant T a snapshot reads the latest day complete by T and the year of days before it.
Here each day's values and trailing-year statistics are computed once for all the days needed
(`trailing_stats`, a range self-join), and each instant picks its day with `known_max` over the time
the day became complete. That equals the snapshot when every row dated up to that day was published
by T (the day is *settled*); at an instant where a row of an earlier day was published after T (a
late revision), the whole area is evaluated as a snapshot instead (`fallback`), so the history is
exact without assuming that data arrives in date order. Event-level liquidations (the trailing 24 h
and the last UTC day) and cited figures are range joins of the instants with the rows.
"""

from __future__ import annotations

import datetime as dt

import ibis
import pandas as pd

from btcstress.history.context import known_max
from btcstress.metrics import leverage as lev
from btcstress.metrics import leverage_events
from btcstress.metrics.stats import MIN_HISTORY

DERIV_COLS = {col: fid for fid, (col, _) in lev._DERIV.items()}


def rows(hctx) -> pd.DataFrame:
    p = hctx.area_params(lev.AREA, lev.DEFAULTS)
    cal = hctx.calendar
    subjects = lev.subjects(list(p["assets"]))
    daily, late1 = _daily(hctx, cal, p, subjects)
    deriv, late2 = _derivatives(hctx, cal, p)
    parts = [_cited(hctx, cal, p), leverage_events.history(hctx, cal, subjects), daily, deriv]
    parts = [x.assign(_o=i * 1_000_000 + x["_o"]) for i, x in enumerate(parts) if len(x)]
    df = pd.concat(parts, ignore_index=True)  # sorted below in the snapshot's emission order
    out = df.sort_values(["as_of", "_o"], kind="stable", ignore_index=True).drop(columns="_o")
    late = sorted(late1 | late2)
    if late:
        from btcstress.history.fallback import snapshot_rows
        out = out[~out["as_of"].isin(pd.to_datetime(pd.Series(late)).astype("datetime64[us]"))]
        snap = snapshot_rows(hctx.store, lev.AREA, late, params=hctx.params)
        out = pd.concat([out, snap], ignore_index=True).sort_values("as_of", kind="stable", ignore_index=True)
    return out  # history.compute conforms the columns


def trailing_stats(frame: ibis.Table, cur: ibis.Table, cols: list[str], days: int, by: tuple[str, ...]
                   ) -> ibis.Table:
    """Per row of `cur` (date, `by`, `cols`): over the rows of `frame` in its `by` group dated
    [date - days, date), the count `n` and per column its mean, sample std and how many are at or
    below the row's own value: what `leverage._history_stats` gives for one day, for every day."""
    h = frame.select(**{f"_b_{b}": frame[b] for b in by}, _hdate=frame.date,
                     **{f"_h_{c}": frame[c] for c in cols})
    cond = [h._hdate < cur.date, h._hdate >= cur.date - ibis.interval(days=days)]
    cond += [h[f"_b_{b}"] == cur[b] for b in by]
    j = cur.select("date", *by, *cols).left_join(h, cond)
    aggs = {"n": j._hdate.count()}
    for c in cols:
        aggs.update({f"{c}__mean": j[f"_h_{c}"].mean(), f"{c}__std": j[f"_h_{c}"].std(),
                     f"{c}__le": (j[f"_h_{c}"] <= j[c]).cast("int64").sum()})
    return j.group_by(["date", *by, *cols]).aggregate(**aggs)


def _settled(rows: ibis.Table, by: tuple[str, ...]) -> ibis.Table:
    """Per (`by`, date): the latest available_at of any row dated up to that date (running max)."""
    d = rows.group_by([*by, "date"]).aggregate(s=rows.available_at.max())
    w = ibis.window(group_by=list(by), order_by="date", preceding=None, following=0)
    return d.mutate(settled=d.s.max().over(w)).drop("s")


def _pick(cal, frame: ibis.Table, by: tuple[str, ...]) -> pd.DataFrame:
    """Per instant and group: the latest date complete by then (`k` <= T), or NaT."""
    keys = frame.select(*by).distinct()
    return known_max(cal.cross_join(keys), "as_of", frame, "date", by=by, data_time="k", name="day").execute()


def _day_stats(frame, settled, picks: pd.DataFrame, cols, p, by) -> pd.DataFrame:
    """Per (`by`, day) picked by some instant: the day's values, settled time and each column's
    z-score and percentile (`col__z`, `col__pct`, where the snapshot gives them; `col__zraw` always)."""
    need = picks.loc[picks["day"].notna(), [*by, "day"]].drop_duplicates().rename(columns={"day": "date"})
    need["date"] = pd.to_datetime(need["date"]).dt.date
    want = ibis.memtable(need, schema={**{b: "string" for b in by}, "date": "date"})
    cur = frame.join(want, [frame[b] == want[b] for b in (*by, "date")]).select(frame)
    st = trailing_stats(frame, cur, cols, p["history_days"], by).join(settled, [*by, "date"]).execute()
    st["day"] = pd.to_datetime(st.pop("date")).astype("datetime64[us]")
    n = st["n"].fillna(0)
    for c in cols:
        s = [lev.stat(*r) for r in zip(n, st[f"{c}__mean"], st[f"{c}__std"], st[f"{c}__le"], st[c])]
        st[f"{c}__zraw"] = pd.Series([x["zscore"] for x in s], index=st.index, dtype="float64")
        shown = st[f"{c}__zraw"].notna() & (n >= p["min_history_days"]) & (n >= MIN_HISTORY)
        st[f"{c}__z"] = st[f"{c}__zraw"].where(shown)
        st[f"{c}__pct"] = pd.Series([x["percentile"] for x in s], index=st.index, dtype="float64").where(shown)
    return st


def _at_instants(hctx, picks: pd.DataFrame, st: pd.DataFrame, by) -> pd.DataFrame:
    picks = picks.assign(day=pd.to_datetime(picks["day"]).astype("datetime64[us]"))
    return picks.merge(st, on=[*by, "day"], how="left")


def _calendar(hctx) -> pd.DataFrame:
    return pd.DataFrame({"as_of": pd.to_datetime(pd.Series(hctx.instants, dtype="object")).astype("datetime64[us]")})


def _frame(df, fid, value, *, subject, unit, window, note=None, zscore=None, percentile=None, order=0, kind="computed"):
    return pd.DataFrame({"as_of": df["as_of"].to_numpy(), "id": fid, "subject": subject, "value": value,
                         "unit": unit, "window": window, "kind": kind, "note": note, "zscore": zscore,
                         "percentile": percentile, "_o": order})


def _date(s: pd.Series) -> pd.Series:
    return s.dt.strftime("%Y-%m-%d")


def _notes(d: pd.DataFrame, missing: str) -> tuple[pd.Series, pd.Series, pd.Series]:
    """ok (a day was picked), the not-available note where not, the window "1d:<day>" (or "")."""
    ok = d["day"].notna()
    none = ("not available: " + missing + " published by " + d["as_of"].dt.strftime("%Y-%m-%dT%H:%MZ")).where(~ok)
    expected = d["as_of"].dt.floor("D") - pd.Timedelta(days=1)
    late = ok & (d["day"] < expected)
    stale = ("the latest complete day in the data is " + _date(d["day"]) + ", "
             + ((expected - d["day"]).dt.days.astype("Int64").astype(str)) + " day(s) before the last complete UTC day")
    note = none.where(~ok, stale.where(late))
    return ok, note.astype(object).where(note.notna(), None), ("1d:" + _date(d["day"])).where(ok, "")


# -- daily liquidations ------------------------------------------------------------------------------

def _daily(hctx, cal, p, subjects) -> tuple[pd.DataFrame, set]:
    assets = list(p["assets"])
    t = hctx.table("liquidations_daily")
    t = t.filter(t.asset.isin(assets))
    pa = lev.per_asset(t, assets, k_long=lambda x: x.available_at.min(where=x.long_usd.notnull()),
                       k_short=lambda x: x.available_at.min(where=x.short_usd.notnull()))
    pa = pa.mutate(k=ibis.greatest(pa.k_long, pa.k_short))  # the day is complete once both sides are
    cols = ["long_usd", "short_usd", "total_usd"]
    frames, smap = [], []
    for subject, sub in subjects:
        f = lev.subject_frame(pa, sub, k=lambda x: x.k.max())
        frames.append(f.select("date", *cols, "k", subject=ibis.literal(subject)))
        smap += [{"subject": subject, "asset": a} for a in sub]
    frame = frames[0]
    for f in frames[1:]:
        frame = frame.union(f)
    sm = ibis.memtable(pd.DataFrame(smap))
    settled = _settled(t.join(sm, t.asset == sm.asset).select("subject", "date", "available_at"), ("subject",))
    picks = _pick(cal, frame, ("subject",))
    st = _day_stats(frame, settled, picks, cols, p, ("subject",))
    ids = ("liquidations.long_usd", "liquidations.short_usd", "liquidations.total_usd",
           "liquidations.long_share_pct", "liquidations.zscore_1y")
    pos = st["total_usd"] > 0
    st["share"] = (100.0 * st["long_usd"] / st["total_usd"]).where(pos).map(lambda x: round(x, 2), na_action="ignore")
    st["share_note"] = ("not available: no liquidations on " + _date(st["day"])).where(~pos)
    has = st["total_usd__zraw"].notna() & (st["n"].fillna(0) >= p["min_history_days"])
    st["z1y_note"] = ("not available: only " + st["n"].fillna(0).astype(int).astype(str) + " days of history before "
                      + _date(st["day"]) + f" (need {p['min_history_days']})").where(~has)
    st["z1y"] = st["total_usd__zraw"].where(has)
    df = _at_instants(hctx, picks, st, ("subject",))
    late = set(df.loc[df["settled"] > df["as_of"], "as_of"])
    out = []
    cal_df = _calendar(hctx)
    for si, (subject, _) in enumerate(subjects):
        d = cal_df.merge(df[df["subject"] == subject], on="as_of", how="left")
        ok, note, window = _notes(d, f"no daily liquidations for {subject}")
        o = si * 10
        for i, col in enumerate(cols):
            out.append(_frame(d, ids[i], d[col].where(ok), subject=subject, unit=lev._UNITS[ids[i]], window=window,
                              note=note, zscore=d[f"{col}__z"], percentile=d[f"{col}__pct"], order=o + i))
        out.append(_frame(d, ids[3], d["share"], subject=subject, unit="pct", window=window, order=o + 3,
                          note=d["share_note"].where(d["share_note"].notna(), note)))
        out.append(_frame(d, ids[4], d["z1y"], subject=subject, unit="z", window=window, order=o + 4,
                          zscore=d["total_usd__z"].where(d["z1y"].notna()),
                          percentile=d["total_usd__pct"].where(d["z1y"].notna()),
                          note=d["z1y_note"].where(d["z1y_note"].notna(), note)))
    return pd.concat(out, ignore_index=True), late


# -- open interest, funding, leverage ratio --------------------------------------------------------------

def _derivatives(hctx, cal, p) -> tuple[pd.DataFrame, set]:
    assets = list(p["assets"])
    t = hctx.table("derivatives_daily")
    t = t.filter(t.asset.isin(assets))
    by = ("asset", "col", "fam")
    parts = []
    for col in DERIV_COLS:  # one long table: (asset, column, origin family) series; see leverage_daily.family
        s = t.filter(t[col].notnull())
        parts.append(s.select("asset", "date", "available_at", v=s[col], col=ibis.literal(col),
                              fam=ibis.ifelse(s.origin.contains("cryptoquant"), "cq", "other")))
    rows = parts[0].union(parts[1]).union(parts[2])
    daily = rows.group_by([*by, "date"]).aggregate(v=rows.v.max(), k=rows.available_at.min())
    picks = _pick(cal, daily, by)
    # The family at T: CryptoQuant once any of its rows of that series is published, else the others.
    cq = daily.filter(daily.fam == "cq").group_by(["asset", "col"]).aggregate(first=daily.k.min()).execute()
    picks = picks.merge(cq, on=["asset", "col"], how="left")
    picks = picks[(picks["fam"] == "cq") == (picks["first"].notna() & (picks["first"] <= picks["as_of"]))]
    picks = picks.drop(columns="first")
    st = _day_stats(daily, _settled(rows, by), picks, ["v"], p, by)
    vals = daily.select(*by, "date", "v").execute()
    vals["day"] = pd.to_datetime(vals.pop("date")).astype("datetime64[us]")
    for k in (1, 7):  # the open interest k days before the day, where published
        prev = vals.rename(columns={"v": f"prev{k}"}).assign(day=vals["day"] + pd.Timedelta(days=k))
        st = st.merge(prev, on=[*by, "day"], how="left")
    df = _at_instants(hctx, picks, st, by)
    df = df[df["day"].notna()]
    late = set(df.loc[df["settled"] > df["as_of"], "as_of"])
    cal_df = _calendar(hctx)
    out = []
    for ai, asset in enumerate(assets):
        for ci, (col, fid) in enumerate(DERIV_COLS.items()):
            o = ai * 100 + ci * 10
            d = cal_df.merge(df[(df["asset"] == asset) & (df["col"] == col)], on="as_of", how="left")
            ok, note, window = _notes(d, f"no {col} series for {asset}")
            if fid == "derivatives.open_interest_usd":
                for j, k in enumerate((1, 7)):
                    prev = d["day"] - pd.Timedelta(days=k)
                    has = ok & d[f"prev{k}"].notna()
                    chg = (100.0 * (d["v"] / d[f"prev{k}"] - 1.0)).where(has).map(lambda x: round(x, 2),
                                                                                 na_action="ignore")
                    w = (f"{k}d:" + _date(prev) + ".." + _date(d["day"])).where(ok, f"{k}d")
                    miss = ("not available: no open interest for " + asset + " on " + _date(prev)).where(ok & ~has)
                    out.append(_frame(d, "derivatives.open_interest_change_pct", chg, subject=asset, unit="pct",
                                      window=w, order=o + j, note=miss.where(miss.notna(), note)))
            out.append(_frame(d, fid, d["v"].where(ok), subject=asset, unit=lev._UNITS[fid], window=window,
                              zscore=d["v__z"], percentile=d["v__pct"], order=o + 5, note=note))
    return pd.concat(out, ignore_index=True), late


# -- cited ---------------------------------------------------------------------------------------------

def _cited(hctx, cal, p) -> pd.DataFrame:
    t = hctx.table("citations")
    t = t.filter(~t.finding_id.startswith("miners."))
    t = t.select("finding_id", "subject", "source", "value", "unit", "window", "note", "available_at",
                 cited_at=t.as_of)
    j = cal.join(t, (t.available_at <= cal.as_of)
                 & (t.cited_at >= cal.as_of - ibis.interval(hours=p["cited_max_age_hours"])))
    df = j.select(cal.as_of, t).order_by(["as_of", "finding_id", "subject", "cited_at", "source"]).execute()
    if not len(df):
        return pd.DataFrame(columns=["as_of", "_o"])
    note = ["cited figure, shown beside computed values and never combined with them"
            + (f": {n}" if isinstance(n, str) and n else "") for n in df["note"]]
    return pd.DataFrame({"as_of": df["as_of"], "id": df["finding_id"], "subject": df["subject"],
                         "value": df["value"].astype("float64"), "unit": df["unit"].fillna(""),
                         "window": df["window"].fillna(""), "kind": "cited", "note": note,
                         "_o": df.groupby("as_of").cumcount()})
