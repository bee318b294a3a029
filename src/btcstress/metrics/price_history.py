"""Price findings as point-in-time series (the `history` of btcstress.metrics.price).

Per instant T, the same choices a snapshot makes (btcstress.metrics.price), made for all instants at
once: the primary market (first in MARKETS with a bar closed within `stale_after`, finest fresh
interval) from the last close of each series known by T (`known_max`); the trailing 24 h as a range
join of the instants with the bars closed in (T-24h, T]; the daily history (first of DAILY_MARKETS
with bars by T) whose bars are a prefix in time, so a day's return, its trailing-year z-score and
its percentile over all earlier days are properties of the day, computed once per day needed.
"""

from __future__ import annotations

import bisect
import datetime as dt
import json

import ibis
import numpy as np
import pandas as pd

from btcstress.history import conform
from btcstress.history.context import known_max, one_per
from btcstress.metrics.price import DAILY_MARKETS, MARKETS, NO_BAR_24H, stale_after
from btcstress.metrics.stats import MIN_HISTORY
from btcstress.store import interval_length

DAY = dt.timedelta(days=1)
KEY = ("venue", "symbol", "interval")


def rows(hctx) -> pd.DataFrame:
    cal = hctx.calendar
    c = effective(hctx)
    prim = _primary(hctx, cal, c)
    trailing, low = _trailing(hctx, c, prim)
    daily = _daily_choice(cal, c)
    last_day = _last_day(c, daily, hctx.instants)
    price = trailing[trailing["id"] == "price.last_usd"][["as_of", "value"]].rename(columns={"value": "price"})
    out = [trailing, last_day, _ath(c, prim, daily, price), _lowest_since(c, daily, low),
           _below_events(hctx, c, daily, price)]
    return conform(pd.concat(out, ignore_index=True))


def _frame(as_of, fid, value=None, *, unit, window, note=None, text=None, **extra) -> pd.DataFrame:
    return pd.DataFrame({"as_of": as_of, "id": fid, "subject": "BTC", "value": value, "value_text": text,
                         "unit": unit, "window": window, "kind": "computed", "note": note, **extra})


def effective(hctx) -> ibis.Table:
    """Candles as `price.bars` reads them: a high or low with a quality flag is replaced by the day's
    Binance hourly envelope (daily bars, all 24 hourly bars) or set null; closes are kept.
    A flag counts from its bar's publication: exact when a flag's available_at is its bar's (true of
    every rule in src/btcstress/quality today; a later flag would be applied early here)."""
    c = hctx.table("candles")
    q = hctx.table("quality")
    flags = q.group_by(q.series, q.ts).aggregate(
        q_high=(q.field == "high").any(), q_low=(q.field == "low").any())
    c = c.mutate(_series="candles:" + c.venue + "/" + c.symbol + "/" + c.interval)
    j = c.left_join(flags, [c._series == flags.series, c.open_time == flags.ts])
    h = hctx.table("candles")
    h = h.filter((h.interval == "1h") & h.venue.isin(["binance", "binance-usdm"]))
    per = h.group_by(h.venue, day=h.open_time.truncate("D")).aggregate(hi=h.high.max(), lo=h.low.min(), n=h.count())
    per = per.filter(per.n == 24)
    env = per.group_by("day").aggregate(h_high=per.hi.max(), h_low=per.lo.min())
    j = j.left_join(env, [j.open_time == env.day, j.interval == "1d"])
    qh, ql = j.q_high.fill_null(False), j.q_low.fill_null(False)
    return j.mutate(high=ibis.ifelse(qh, j.h_high, j.high), low=ibis.ifelse(ql, j.h_low, j.low)) \
            .select(*hctx.table("candles").columns)


# -- which market, per instant ---------------------------------------------------------------------

def _series(c: ibis.Table, markets) -> ibis.Table:
    pairs = [(v, s) for v, s, *_ in markets]
    cond = ibis.or_(*[(c.venue == v) & (c.symbol == s) for v, s in pairs])
    return c.filter(cond)


def _primary(hctx, cal, c) -> pd.DataFrame:
    """as_of, venue, symbol, interval, label of the primary market (nulls where none is current)."""
    bars = _series(c, MARKETS)
    series = bars.select(*KEY).distinct()
    k = known_max(cal.cross_join(series), "as_of", bars, "available_at", by=KEY, name="last").execute()
    rank = {(v, s): i for i, (v, s, _) in enumerate(MARKETS)}
    labels = {(v, s): lab for v, s, lab in MARKETS}
    k = k[k["last"].notna()].copy()
    k["stale"] = k["interval"].map(stale_after)
    k = k[(k["as_of"] - k["last"]) <= k["stale"]]
    k["rank"] = [rank[(v, s)] for v, s in zip(k["venue"], k["symbol"])]
    k["length"] = k["interval"].map(interval_length)
    k = k.sort_values(["as_of", "rank", "length"]).drop_duplicates("as_of")
    k["label"] = [f"{labels[(v, s)]}, {i} bars" for v, s, i in zip(k["venue"], k["symbol"], k["interval"])]
    cal_df = pd.DataFrame({"as_of": pd.to_datetime(pd.Series(hctx.instants, dtype="object")).astype("datetime64[us]")})
    return cal_df.merge(k[["as_of", *KEY, "label"]], on="as_of", how="left")


def _daily_choice(cal, c) -> ibis.Table:
    """as_of, venue, symbol, day (the latest daily bar known by T of the first DAILY_MARKETS series
    with bars by T), available (that bar's close)."""
    d = _series(c.filter(c.interval == "1d"), DAILY_MARKETS)
    series = d.select("venue", "symbol").distinct()
    rank = ibis.memtable(pd.DataFrame({"venue": [m[0] for m in DAILY_MARKETS], "symbol": [m[1] for m in DAILY_MARKETS],
                                       "rank": range(len(DAILY_MARKETS))}))
    k = known_max(cal.cross_join(series), "as_of", d, "open_time", by=("venue", "symbol"), name="day")
    k = k.filter(k.day.notnull()).join(rank, ["venue", "symbol"])
    return one_per(k, ["as_of"], ["rank"]).select("as_of", "venue", "symbol", "day")


def _daily_bars(c) -> ibis.Table:
    d = _series(c.filter(c.interval == "1d"), DAILY_MARKETS)
    w = ibis.window(group_by=["venue", "symbol"], order_by="open_time")
    d = d.mutate(prev_close=d.close.lag().over(w))
    return d.mutate(ret=d.close / d.prev_close - 1)


# -- trailing 24 h ---------------------------------------------------------------------------------

def _trailing(hctx, c, prim: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    ids = ("price.last_usd", "price.low_24h_usd", "price.high_24h_usd", "price.max_drop_24h_pct",
           "price.change_24h_pct")
    have = prim[prim["venue"].notna()]
    p = ibis.memtable(have[["as_of", *KEY]].astype({"as_of": "datetime64[us]"}))
    j = p.join(c, [p.venue == c.venue, p.symbol == c.symbol, p.interval == c.interval,
                   c.available_at > p.as_of - ibis.interval(days=1), c.available_at <= p.as_of])
    j = j.select(p.as_of, p.venue, p.symbol, p.interval, c.open_time, c.low, c.high, c.close, c.available_at)
    w = ibis.window(group_by="as_of", order_by="open_time", preceding=None, following=0)
    j = j.mutate(drop=j.low / j.high.max().over(w) - 1)
    agg = j.group_by("as_of").aggregate(low=j.low.min(), high=j.high.max(), drop=j["drop"].min(),
                                        holes=(j.low.isnull() | j.high.isnull()).cast("int64").sum())
    last = one_per(j, ["as_of"], [ibis.desc("open_time")]).select("as_of", *KEY, "open_time", "close", "available_at")
    last = last.mutate(ref_t=last.available_at - ibis.interval(days=1))
    ref = known_max(last, "ref_t", c, "open_time", by=KEY, name="ref_open")
    ref = ref.left_join(c, [ref.venue == c.venue, ref.symbol == c.symbol, ref.interval == c.interval,
                            ref.ref_open == c.open_time]).select(ref.as_of, ref.open_time, ref.close,
                                                                 ref_close=c.close)
    df = ref.join(agg, "as_of").execute()
    df = prim[["as_of", "interval"]].merge(df, on="as_of", how="left")
    ok = df["close"].notna()
    window = ["24h" if i != "1d" else f"1d:{pd.Timestamp(o).date()}" if pd.notna(o) else "24h"
              for i, o in zip(df["interval"], df["open_time"])]
    no_market = "not available: no market has a bar closed in the last two days before as-of"
    # A current market without a bar in the 24 h (a gap in its data) is not "no market".
    miss = [None if o else (f"not available: {NO_BAR_24H}" if pd.notna(i) else no_market)
            for o, i in zip(ok, df["interval"])]
    units = {"price.last_usd": "USD", "price.low_24h_usd": "USD", "price.high_24h_usd": "USD",
             "price.max_drop_24h_pct": "pct", "price.change_24h_pct": "pct"}
    vals = {"price.last_usd": df["close"], "price.low_24h_usd": df["low"], "price.high_24h_usd": df["high"],
            "price.max_drop_24h_pct": df["drop"] * 100}
    whole = ok & (df["holes"] == 0) & df["drop"].notna()
    hole = "not available: a bar in the window has a suspect high or low and no clean source (`btcstress quality`)"
    out = [_frame(df["as_of"], "price.last_usd", vals["price.last_usd"].where(ok), unit="USD", window=window,
                  note=miss)]
    out += [_frame(df["as_of"], i, vals[i].where(whole), unit=units[i], window=window,
                   note=[None if w else (hole if o else m) for w, o, m in zip(whole, ok, miss)]) for i in ids[1:4]]
    has_ref = ok & df["ref_close"].notna()
    out.append(_frame(df["as_of"], "price.change_24h_pct", ((df["close"] / df["ref_close"] - 1) * 100).where(has_ref),
                      unit="pct", window=window,
                      note=[None if r else ("not available: no bar 24 h before the last one" if o else m)
                            for r, o, m in zip(has_ref, ok, miss)]))
    low = pd.DataFrame({"as_of": df["as_of"], "level": df["low"].where(whole)})
    return pd.concat(out, ignore_index=True), low


# -- last complete UTC day ---------------------------------------------------------------------------

def _last_day(c, daily: ibis.Table, instants) -> pd.DataFrame:
    d = _daily_bars(c)
    # The z-score's trailing year: the days in [day - 365 d, day - 1 d] (a range window per day).
    year = ibis.window(group_by=["venue", "symbol"], order_by="open_time",
                       range=(-ibis.interval(days=365), -ibis.interval(days=1)))
    d = d.mutate(mean=d.ret.mean().over(year), std=d.ret.std().over(year), n=d.ret.count().over(year))
    j = daily.left_join(d, [daily.venue == d.venue, daily.symbol == d.symbol, daily.day == d.open_time])
    j = j.select(daily.as_of, daily.venue, daily.symbol, daily.day, d.close, d.low, d.high, d.ret, d.mean, d.std, d.n)
    df = j.execute()
    rets = d.filter(d.ret.notnull()).select("venue", "symbol", "open_time", "ret").execute()
    df["total"], df["below"] = _earlier_at_or_below(df, rets)
    cal = pd.DataFrame({"as_of": pd.to_datetime(pd.Series(instants, dtype="object")).astype("datetime64[us]")})
    df = cal.merge(df, on="as_of", how="left")
    ok = df["day"].notna()
    window = [f"1d:{pd.Timestamp(x).date()}" if pd.notna(x) else "1d" for x in df["day"]]
    none = "not available: no complete day of daily bars by as-of"
    note = [None if o else none for o in ok]
    out = [_frame(df["as_of"], "price.close_usd", df["close"].where(ok), unit="USD", window=window, note=note)]
    suspect = "not available: suspect value and no clean source for that day (`btcstress quality`)"
    out += [_frame(df["as_of"], f"price.{k}_usd", df[k].where(ok), unit="USD", window=window,
                   note=[None if (o and pd.notna(v)) else (suspect if o else none) for o, v in zip(ok, df[k])])
            for k in ("low", "high")]
    has = ok & df["ret"].notna()
    stat = has & (df["n"].fillna(0) >= MIN_HISTORY)  # metrics.stats.enforce: no statistic on a short base
    z = [round((r - m) / sd, 2) if (sd and not pd.isna(sd)) else None for r, m, sd in zip(df["ret"], df["mean"], df["std"])]
    pct = [round(100 * int(b) / int(t), 2) if t else None for b, t in zip(df["below"].fillna(0), df["total"].fillna(0))]
    out.append(_frame(df["as_of"], "price.change_1d_pct", (df["ret"] * 100).where(has), unit="pct", window=window,
                      note=[None if h else ("not available: no previous day" if o else none) for h, o in zip(has, ok)],
                      zscore=pd.Series(z, dtype="float64").where(stat), percentile=pd.Series(pct, dtype="float64").where(stat)))
    return pd.concat(out, ignore_index=True)


def _earlier_at_or_below(df: pd.DataFrame, rets: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Per row of df (venue, symbol, day, ret): how many earlier days had a return, and how many of
    those were <= the row's return (the percentile's count), by one pass in time order."""
    total = np.zeros(len(df), dtype=np.int64)
    below = np.zeros(len(df), dtype=np.int64)
    for (venue, symbol), g in rets.groupby(["venue", "symbol"]):
        g = g.sort_values("open_time")
        times, values = g["open_time"].to_numpy(), g["ret"].to_numpy()
        rows = np.flatnonzero((df["venue"] == venue).to_numpy() & (df["symbol"] == symbol).to_numpy()
                              & df["ret"].notna().to_numpy())
        if not len(rows):
            continue
        k = np.searchsorted(times, df["day"].to_numpy()[rows].astype(times.dtype), side="left")
        order = np.argsort(k, kind="stable")
        seen: list[float] = []
        pos = 0
        for r in order:
            while pos < k[r]:
                bisect.insort(seen, values[pos])
                pos += 1
            total[rows[r]] = k[r]
            below[rows[r]] = bisect.bisect_right(seen, df["ret"].iat[rows[r]])
    return total, below


# -- all-time high and drawdown ---------------------------------------------------------------------

def _ath(c, prim: pd.DataFrame, daily: ibis.Table, price: pd.DataFrame) -> pd.DataFrame:
    d = _series(c.filter(c.interval == "1d"), DAILY_MARKETS)
    w = ibis.window(group_by=["venue", "symbol"], order_by="open_time", preceding=None, following=0)
    d = d.mutate(ath=d.high.max().over(w))
    w2 = ibis.window(group_by=["venue", "symbol"], order_by="open_time")
    d = d.mutate(prev_ath=d.ath.lag().over(w2))
    d = d.mutate(new=ibis.ifelse(d.prev_ath.isnull() | (d.high > d.prev_ath), d.open_time, ibis.null()))
    d = d.mutate(ath_time=d.new.max().over(w))
    j = daily.left_join(d, [daily.venue == d.venue, daily.symbol == d.symbol, daily.day == d.open_time])
    # from the end of the composite's last bar (not its later publication), as the snapshot does
    df = j.select(daily.as_of, d.ath, d.ath_time, since=d.open_time + ibis.interval(days=1)).execute()
    df = prim[["as_of", *KEY]].merge(df, on="as_of", how="left")
    intraday = df[df["interval"].notna() & (df["interval"] != "1d") & df["since"].notna()]
    if len(intraday):
        p = ibis.memtable(intraday[["as_of", *KEY, "since"]].astype({"as_of": "datetime64[us]",
                                                                       "since": "datetime64[us]"}))
        r = p.join(c, [p.venue == c.venue, p.symbol == c.symbol, p.interval == c.interval,
                       c.open_time >= p.since, c.available_at <= p.as_of]).select(p.as_of, c.high, c.open_time)
        r = one_per(r, ["as_of"], [ibis.desc("high"), "open_time"]).execute()
        df = df.merge(r.rename(columns={"high": "r_high", "open_time": "r_time"}), on="as_of", how="left")
        newer = df["r_high"].notna() & (df["r_high"] > df["ath"])
        df.loc[newer, "ath"] = df.loc[newer, "r_high"]
        df.loc[newer, "ath_time"] = df.loc[newer, "r_time"]
    df = df.merge(price, on="as_of", how="left")
    ok = df["ath"].notna()
    none = "not available: no daily price history by as-of"
    note = [None if o else none for o in ok]
    dates = [str(pd.Timestamp(t).date()) if pd.notna(t) else None for t in df["ath_time"]]
    has_price = ok & df["price"].notna()
    return pd.concat([
        _frame(df["as_of"], "price.ath_usd", df["ath"].where(ok), unit="USD", window="all", note=note),
        _frame(df["as_of"], "price.ath_date", None, text=dates, unit="date", window="all", note=note),
        _frame(df["as_of"], "price.drawdown_from_ath_pct", ((df["price"] / df["ath"] - 1) * 100).where(has_price),
               unit="pct", window="all",
               note=[None if h else ("not available: no current price" if o else none) for h, o in zip(has_price, ok)]),
    ], ignore_index=True)


# -- lowest since ---------------------------------------------------------------------------------

def _lowest_since(c, daily: ibis.Table, low: pd.DataFrame) -> pd.DataFrame:
    """The latest day before the trailing-24h window whose low is at or below the 24 h low. The
    daily bars come from one query; the search per instant is a vectorised binary lifting over a
    sparse table of range minima (a range join of every instant with every earlier day was ~100x
    slower: 90M candidate pairs on the hourly grid)."""
    fid = "price.lowest_since_date"
    lv = low[low["level"].notna()].copy()
    lv["ws"] = (lv["as_of"] - DAY).dt.floor("D")
    hits = pd.DataFrame({"as_of": pd.Series(dtype="datetime64[us]"), "hit": pd.Series(dtype="datetime64[us]")})
    if len(lv):
        which = daily.execute()[["as_of", "venue", "symbol"]]
        lv = lv.merge(which, on="as_of")
        d = _series(c.filter(c.interval == "1d"), DAILY_MARKETS).select("venue", "symbol", "open_time", "low").execute()
        parts = []
        for (venue, symbol), q in lv.groupby(["venue", "symbol"]):
            bars = d[(d["venue"] == venue) & (d["symbol"] == symbol)].sort_values("open_time")
            times = bars["open_time"].to_numpy()
            k = np.searchsorted(times, q["ws"].to_numpy().astype(times.dtype), side="left")
            i = _last_at_or_below(bars["low"].to_numpy(dtype="float64"), k, q["level"].to_numpy(dtype="float64"))
            parts.append(pd.DataFrame({"as_of": q["as_of"].to_numpy(),
                                       "hit": pd.Series(times[np.maximum(i, 0)]).where(i >= 0).to_numpy()}))
        if parts:
            hits = pd.concat(parts, ignore_index=True)
    df = low.merge(hits, on="as_of", how="left")
    text = [str(pd.Timestamp(h).date()) if pd.notna(h) else None for h in df["hit"]]
    note = [None if pd.notna(h) else
            ("not available: no trailing-24h low" if pd.isna(lvl) else
             f"not available: no earlier day in the data had a low at or below {lvl:,.2f} "
             "(lowest on record in the data)") for h, lvl in zip(df["hit"], df["level"])]
    return _frame(df["as_of"], fid, None, text=text, unit="date", window="24h", note=note)


def _last_at_or_below(lows: np.ndarray, end: np.ndarray, level: np.ndarray) -> np.ndarray:
    """For each query, the largest index i < end with lows[i] <= level, else -1 (NaN lows never match).
    Skips, in descending powers of two, blocks just left of the cursor whose minimum is above level."""
    lows = np.where(np.isnan(lows), np.inf, lows)
    table = [lows]
    while (1 << len(table)) <= len(lows):
        prev, half = table[-1], 1 << (len(table) - 1)
        table.append(np.minimum(prev[:-half], prev[half:]))
    p = end.astype(np.int64).copy()
    for j in range(len(table) - 1, -1, -1):
        size = 1 << j
        start = p - size
        ok = start >= 0
        block = np.full(len(p), -np.inf)
        block[ok] = table[j][start[ok]]
        p = np.where(ok & (block > level), start, p)
    return p - 1


# -- named events the price is below ----------------------------------------------------------------

def _below_events(hctx, c, daily: ibis.Table, price: pd.DataFrame) -> pd.DataFrame:
    fid = "price.below_event"
    have = price[price["price"].notna()]
    hits = pd.DataFrame(columns=["as_of", "date", "id"])
    if len(have):
        p = ibis.memtable(have.astype({"as_of": "datetime64[us]"}))
        p = p.join(daily, "as_of").select(p.as_of, p.price, daily.venue, daily.symbol)
        ev = hctx.table("events")
        ev = ev.select(edate=ev.date, eid=ev.id, eavail=ev.available_at)
        d = _series(c.filter(c.interval == "1d"), DAILY_MARKETS)
        d = d.select(dv=d.venue, ds=d.symbol, dday=d.open_time.date(), davail=d.available_at, close=d.close)
        # As the snapshot: an event on the day described (or the day before) is no reference point for it.
        j = p.join(ev, (ev.eavail <= p.as_of) & (ev.edate < (p.as_of - ibis.interval(days=2)).date()))
        j = j.join(d, [d.dv == j.venue, d.ds == j.symbol, d.dday == j.edate, d.davail <= j.as_of])
        j = j.filter(j.close > j.price).select(as_of=j.as_of, date=j.edate, id=j.eid)
        hits = j.execute()
    hits = hits.sort_values(["as_of", "date", "id"], ascending=[True, False, True])
    lists = hits.groupby("as_of")["id"].agg(list)
    text = [json.dumps(lists.get(t, [])) if pd.notna(v) else None for t, v in zip(price["as_of"], price["price"])]
    note = [None if pd.notna(v) else "not available: no current price" for v in price["price"]]
    return _frame(price["as_of"], fid, None, text=text, unit="events", window="since", note=note)
