"""Market findings as point-in-time series (the `history` of btcstress.metrics.market).

Each finding is "the latest day published by T": per instant, the largest date among the rows with
available_at <= T (`known_max`), then that day's row (first origin in order, as the snapshot). The
total cap's daily change and its z-score are properties of the day (a day's predecessor and trailing
year are published before it), computed once per day with window functions and a trailing self-join.
"""

from __future__ import annotations

import datetime as dt

import ibis
import pandas as pd

from btcstress.history import conform
from btcstress.history.context import known_max, one_per
from btcstress.metrics.stats import MIN_HISTORY

DAY = dt.timedelta(days=1)


def rows(hctx) -> pd.DataFrame:
    cal = hctx.calendar
    out = [_total_cap(hctx, cal),
           _latest(hctx, cal, "market.btc_cap_usd", "market_cap_daily", "scope", "btc", "cap_usd", "USD", "BTC",
                   f"no btc market cap published by as-of"),
           _latest(hctx, cal, "market.btc_dominance_pct", "indicators_daily", "name", "btc_dominance_pct", "value",
                   "pct", "BTC", "no btc_dominance_pct published by as-of"),
           _latest(hctx, cal, "market.fear_greed", "indicators_daily", "name", "fear_greed", "value", "index",
                   "crypto", "no fear_greed published by as-of", integer=True)]
    return conform(pd.concat(out, ignore_index=True))


def _at_latest_day(cal: ibis.Table, t: ibis.Table, cols: list[str]) -> pd.DataFrame:
    """Per instant: the row of the latest date published by then (first origin), or nulls."""
    k = known_max(cal, "as_of", t, "date", name="day")
    day_rows = one_per(t, ["date"], ["origin"]).select("date", *cols)
    j = k.left_join(day_rows, k.day == day_rows.date).select("as_of", "day", *cols)
    return j.order_by("as_of").execute()


def _latest(hctx, cal, fid, table, key, name, col, unit, subject, reason, integer=False) -> pd.DataFrame:
    t = hctx.table(table)
    t = t.filter(t[key] == name)
    df = _at_latest_day(cal, t, [col])
    ok = df["day"].notna()
    out = pd.DataFrame({"as_of": df["as_of"], "id": fid, "subject": subject, "unit": unit, "kind": "computed"})
    v = df[col].astype("float64")
    out["value"] = v.where(ok).map(lambda x: float(int(x)) if integer and pd.notna(x) else x)
    out["window"] = [f"1d:{pd.Timestamp(d).date()}" if pd.notna(d) else "1d" for d in df["day"]]
    out["note"] = [None if o else f"not available: {reason}" for o in ok]
    return out


def _total_cap(hctx, cal) -> pd.DataFrame:
    t = hctx.table("market_cap_daily")
    t = t.filter(t.scope == "total")
    order = ibis.window(order_by=[t.date, t.origin])
    t = t.mutate(prev=t.cap_usd.lag().over(order), prev_date=t.date.lag().over(order))
    t = t.mutate(change=t.cap_usd - t.prev)
    df = _at_latest_day(cal, t, ["cap_usd", "prev", "prev_date", "change"])
    z = _zscores(t, df["day"].dropna().unique())
    df = df.merge(z, how="left", left_on="day", right_on="date")
    ok = df["day"].notna()
    days = [pd.Timestamp(d).date() if pd.notna(d) else None for d in df["day"]]
    windows = [f"1d:{d}" if d else "1d" for d in days]
    base = {"as_of": df["as_of"], "subject": "crypto", "unit": "USD", "kind": "computed", "window": windows}
    reason = "not available: no total market cap published by as-of (the derived series starts 2017-07-14)"
    cap = pd.DataFrame({**base, "id": "market.total_cap_usd", "value": df["cap_usd"].where(ok),
                        "note": [None if o else reason for o in ok]})
    consecutive = ok & df["prev"].notna() & ((pd.to_datetime(df["day"]) - pd.to_datetime(df["prev_date"])) == DAY)
    chg = pd.DataFrame({**base, "id": "market.total_cap_change_usd", "value": df["change"].where(consecutive),
                        "zscore": df["zscore"].where(consecutive)})
    chg["note"] = [None if c else (f"not available: no total market cap for the day before {d}" if d else reason)
                   for c, d in zip(consecutive, days)]
    return pd.concat([cap, chg], ignore_index=True)


def _zscores(t: ibis.Table, days) -> pd.DataFrame:
    """z of each asked day's change against the changes of the 365 days before it."""
    if not len(days):
        return pd.DataFrame({"date": pd.Series(dtype="datetime64[us]"), "zscore": pd.Series(dtype="float64")})
    want = ibis.memtable(pd.DataFrame({"d": pd.to_datetime(pd.Series(days)).dt.date}))
    cur = t.join(want, t.date == want.d).select("date", "change")
    h = t.filter(t.change.notnull()).select(hdate=t.date, hchange=t.change)
    j = cur.join(h, (h.hdate < cur.date) & (h.hdate >= cur.date - ibis.interval(days=365)))
    s = j.group_by(["date", "change"]).aggregate(mean=j.hchange.mean(), std=j.hchange.std(), n=j.count()).execute()
    # metrics.stats.enforce: no statistic on fewer than MIN_HISTORY observations.
    s["zscore"] = [round((c - m) / sd, 2) if sd and pd.notna(sd) and pd.notna(c) and n >= MIN_HISTORY else None
                   for c, m, sd, n in zip(s["change"], s["mean"], s["std"], s["n"])]
    s["date"] = pd.to_datetime(s["date"])
    return s[["date", "zscore"]]
