"""ETF findings as point-in-time series (the `history` of btcstress.metrics.etf).

What a snapshot at T reads changes only when a row it can see is published: an ETF day's vintage
(`etf_flow_days`), a fund's row of it (`etf_flows`) or the daily close that prices a flow day. So the
history is computed per *event* (each such publication instant that is the latest one by some
instant of the calendar) and every instant takes its latest event's state (`known_max`):

- per event E, each day's latest vintage published by E (ties broken as the snapshot: highest
  vintage), with the net flow of that vintage's fund rows published by E (a vintage's funds may be
  published in steps: a running sum per step, then the last step by E);
- per event, one grouped query gives the latest trading day, its vintage and status, the week to
  date, the outflow streak (days after the last day with a net flow >= 0), the total since launch,
  the trailing-365-day statistics of the day's flow and the flow-weighted cost basis (days priced
  by closes published by E);
- per event and fund, the latest day's flow and the fund's own trailing statistics;
- per instant: assets under management (the latest Artemis day published by T, summed over the
  funds published by T) and the holders' P&L at `price.last_usd` of that instant.
The rules (windows, rounding, the 20- and MIN_HISTORY-observation floors) are the snapshot's, and
tests/history/test_parity.py holds the two equal.
"""

from __future__ import annotations

import datetime as dt

import ibis
import pandas as pd

from btcstress.history import conform, empty
from btcstress.history.context import known_max, one_per
from btcstress.metrics.etf import AREA, DEFAULTS, IDS, SUBJECT, UNITS, _iso
from btcstress.metrics.stats import MIN_HISTORY

NO_DAYS = "no US spot BTC ETF flows published by this instant (the first traded on 2024-01-11)"


def rows(hctx) -> pd.DataFrame:
    p = hctx.area_params(AREA, DEFAULTS)
    cal = hctx.calendar
    at = _events(hctx, cal, p)  # as_of -> E (NaT before any publication)
    ev = at["E"].dropna().drop_duplicates()
    per = pd.DataFrame()
    if len(ev):
        evt = ibis.memtable(pd.DataFrame({"E": pd.to_datetime(ev).astype("datetime64[us]")}),
                            schema=ibis.schema({"E": "timestamp"}))
        d = _daily(hctx, evt)
        per = _per_event(hctx, d, p)
    if per.empty:
        return conform(_none(at["as_of"]))
    funds = _per_fund(hctx, d, per, p)
    traded = at[at["E"].isin(per["E"])]
    out = [_none(at.loc[~at["E"].isin(per["E"]), "as_of"]),
           traded.merge(_event_rows(per), on="E").drop(columns="E"),
           traded.merge(funds, on="E").drop(columns="E"),
           _aum(hctx, cal, traded["as_of"]),
           _pnl(traded.merge(per[["E", "cost", "since"]], on="E"), hctx.values("price.last_usd"))]
    return conform(pd.concat([o for o in out if len(o)], ignore_index=True))


def _none(as_of: pd.Series) -> pd.DataFrame:
    """Every finding not available (nothing traded by then), as the snapshot words it."""
    if as_of.empty:
        return empty()
    return pd.concat([pd.DataFrame({"as_of": as_of.to_numpy(), "id": i, "subject": SUBJECT, "unit": UNITS.get(i, "USD"),
                                    "window": "", "kind": "computed", "note": f"not available: {NO_DAYS}"})
                      for i in IDS], ignore_index=True)


def _prices(hctx, p: dict) -> ibis.Table:
    c = hctx.table("candles")
    c = c.filter((c.venue == p["price_venue"]) & (c.symbol == p["price_symbol"]) & (c.interval == p["price_interval"]))
    return c.select(pdate=c.open_time.date(), close=c.close, pav=c.available_at)


def _events(hctx, cal: ibis.Table, p: dict) -> pd.DataFrame:
    """Per instant, the latest publication by then that an ETF finding reads (null before the first)."""
    days, flows = hctx.table("etf_flow_days"), hctx.table("etf_flows")
    first = days.available_at.min()
    px = _prices(hctx, p)
    px = px.filter(px.pav >= first.as_scalar())  # closes before the first flow day price nothing
    ev = (days.select(E=days.available_at).union(flows.select(E=flows.available_at))
          .union(px.select(E=px.pav))).distinct()
    k = known_max(cal, "as_of", ev, "E", data_time="E", name="E_at")
    df = k.select("as_of", E=k.E_at).order_by("as_of").execute()
    df["E"] = pd.to_datetime(df["E"]).astype("datetime64[us]")
    return df


def _daily(hctx, evt: ibis.Table) -> ibis.Table:
    """Per event E and trading day: that day's latest vintage published by E, and the net flow of
    its fund rows published by E (the snapshot's `etf.daily` at E)."""
    days, flows = hctx.table("etf_flow_days"), hctx.table("etf_flows")
    pv = evt.join(days, days.available_at <= evt.E)
    pv = one_per(pv, ["E", "date"], [ibis.desc(pv.vintage)])
    pv = pv.filter(pv.funds_reported > 0).select("E", "date", "vintage", "preliminary", "missing_funds", "total_usd")
    # A vintage's fund rows, by publication step: running net, row count and origin per step.
    st = flows.group_by(["date", "vintage", flows.available_at]).aggregate(
        s_net=flows.net_flow_usd.sum(), s_rows=flows.count(), s_origin=flows.origin.max())
    w = ibis.window(group_by=[st.date, st.vintage], order_by=st.available_at, preceding=None, following=0)
    st = st.select(fdate=st.date, fvint=st.vintage, fav=st.available_at, net_flow_usd=st.s_net.sum().over(w),
                   fund_rows=st.s_rows.sum().over(w))
    j = pv.join(st, [pv.date == st.fdate, pv.vintage == st.fvint, st.fav <= pv.E])
    j = one_per(j, ["E", "date"], [ibis.desc(j.fav)])
    return j.select("E", "date", "vintage", "preliminary", "missing_funds", "total_usd", "net_flow_usd", "fund_rows")


def _per_event(hctx, d: ibis.Table, p: dict) -> pd.DataFrame:
    """One row per event: the latest day, its flow and status, and every aggregate over the days."""
    last = one_per(d, ["E"], [ibis.desc(d.date)])
    a = d.group_by("E").aggregate(cum=d.net_flow_usd.sum(), n_days=d.count(), first=d.date.min(),
                                  last_in=d.date.max(where=d.net_flow_usd >= 0))
    top = last.join(a, "E").select("E", day=last.date, vintage=last.vintage, preliminary=last.preliminary,
                                   missing_funds=last.missing_funds, value=last.net_flow_usd, fund_rows=last.fund_rows,
                                   cum=a.cum, n_days=a.n_days, first=a.first, last_in=a.last_in)
    j = d.join(top, "E")
    in_run = j.last_in.isnull() | (j.date > j.last_in)
    trail = (j.date < j.day) & (j.date >= j.day - ibis.interval(days=int(p["history_days"]))) & j.net_flow_usd.notnull()
    wtd = j.date.truncate("W") == j.day.truncate("W")
    s = j.group_by("E").aggregate(
        run_n=j.count(where=in_run), run_usd=j.net_flow_usd.sum(where=in_run), run_first=j.date.min(where=in_run),
        wtd=j.net_flow_usd.sum(where=wtd),
        h_n=j.count(where=trail), h_mean=j.net_flow_usd.mean(where=trail), h_std=j.net_flow_usd.std(where=trail),
        h_below=j.count(where=trail & (j.net_flow_usd <= j.value)))
    px = _prices(hctx, p)
    pj = d.join(px, [d.date == px.pdate, px.pav <= d.E]).filter(lambda t: t.close.notnull())
    b = pj.group_by("E").aggregate(b_usd=pj.net_flow_usd.sum(), b_btc=(pj.net_flow_usd / pj.close).sum(),
                                   b_days=pj.count())
    b = b.rename(bE="E")
    ts_ = top.join(s, "E")
    out = ts_.left_join(b, ts_.E == b.bE).drop("bE").execute()
    out["unpriced"] = out["n_days"] - out["b_days"].fillna(0)
    for c in ("day", "first", "run_first"):
        out[c] = [pd.Timestamp(x).date() if pd.notna(x) else None for x in out[c]]
    out["E"] = pd.to_datetime(out["E"]).astype("datetime64[us]")
    out["since"] = [f"since:{a}..{b}" for a, b in zip(out["first"], out["day"])]
    # The snapshot's cost basis: none without a priced day or with net BTC <= 0.
    priced = out["b_days"].fillna(0).gt(0) & out["b_btc"].notna() & out["b_btc"].gt(0)
    out["cost"] = (out["b_usd"] / out["b_btc"]).where(priced)
    return out


def _per_fund(hctx, d: ibis.Table, per: pd.DataFrame, p: dict) -> pd.DataFrame:
    """Per event and fund: the fund's flow on the latest day (its row of that day's vintage published
    by E) and its z-score against its own reported days of the trailing window."""
    flows = hctx.table("etf_flows")
    fl = flows.select(fdate=flows.date, fund=flows.fund, fvint=flows.vintage, flow=flows.net_flow_usd,
                      fav=flows.available_at)
    last = one_per(d, ["E"], [ibis.desc(d.date)])
    last = last.select("E", day=last.date, dvint=last.vintage)
    today = last.join(fl, [fl.fdate == last.day, fl.fvint == last.dvint, fl.fav <= last.E])
    today = today.select("E", "day", "fund", net_flow_usd=today.flow)
    h = d.join(last, "E")
    h = h.filter((h.date < h.day) & (h.date >= h.day - ibis.interval(days=int(p["history_days"]))))
    hf = h.join(fl, [fl.fdate == h.date, fl.fvint == h.vintage, fl.fav <= h.E]).select("E", "fund", "flow")
    hf = hf.filter(hf.flow.notnull())
    st = hf.group_by(["E", "fund"]).aggregate(n=hf.count(), mean=hf.flow.mean(), std=hf.flow.std())
    st = st.rename(sE="E", sfund="fund")
    df = today.left_join(st, [today.E == st.sE, today.fund == st.sfund]).drop("sE", "sfund").execute()
    df["E"] = pd.to_datetime(df["E"]).astype("datetime64[us]")
    day = [pd.Timestamp(x).date() for x in df["day"]]
    vint = per.set_index("E")["vintage"].reindex(df["E"]).to_numpy()
    ok = df["net_flow_usd"].notna()
    z = [round(float((v - m) / s), 2) if o and pd.notna(n) and n >= 20 and n >= MIN_HISTORY and s and pd.notna(s)
         else None for o, v, m, s, n in zip(ok, df["net_flow_usd"], df["mean"], df["std"], df["n"])]
    short = [_short(n, s) if o else None for o, s, n in zip(ok, df["std"], df["n"])]
    return pd.DataFrame({
        "E": df["E"], "id": "etf.flow_usd", "subject": df["fund"], "value": df["net_flow_usd"].where(ok),
        "unit": "USD", "window": [f"1d:{x}" for x in day], "kind": "computed", "zscore": z,
        "note": [w if o else f"not available: {f} had not reported {x} in the vintage published "
                 f"{pd.Timestamp(v):%Y-%m-%dT%H:%MZ}" for o, f, x, v, w in zip(ok, df["fund"], day, vint, short)]})


def _short(n, std) -> str | None:
    """metrics.stats.enforce's note when the snapshot had a statistic (20+ days, a spread) on fewer than
    MIN_HISTORY observations, which it then drops: said in the note."""
    if pd.notna(n) and MIN_HISTORY > n >= 20 and std and pd.notna(std):
        return f"no z-score or percentile: {int(n)} observations of history (the minimum is {MIN_HISTORY})"
    return None


def _aum(hctx, cal: ibis.Table, traded: pd.Series) -> pd.DataFrame:
    """Per instant with a trading day: the sum over funds of the AUM of the latest day published by
    then (the snapshot reads AUM only once there is a trading day)."""
    a = hctx.table("etf_aum")
    k = known_max(cal, "as_of", a, "date", name="aday")
    j = k.join(a, [a.date == k.aday, a.available_at <= k.as_of])
    df = j.group_by(["as_of", "aday"]).aggregate(aum=j.aum_usd.sum()).execute()
    df["as_of"] = pd.to_datetime(df["as_of"]).astype("datetime64[us]")
    df = pd.DataFrame({"as_of": traded.to_numpy()}).merge(df, on="as_of", how="left")
    ok = df["aday"].notna()
    return pd.DataFrame({"as_of": df["as_of"], "id": "etf.aum_usd", "subject": SUBJECT, "unit": "USD",
                         "kind": "computed", "value": df["aum"].where(ok),
                         "window": [f"1d:{pd.Timestamp(x).date()}" if o else "" for o, x in zip(ok, df["aday"])],
                         "note": [None if o else "not available: no ETF AUM published by T" for o in ok]})


def _pnl(df: pd.DataFrame, price: pd.DataFrame) -> pd.DataFrame:
    """The holders' P&L per instant: that instant's price.last_usd against the event's cost basis."""
    df = df.merge(price.rename(columns={"value": "price"}), on="as_of", how="left")
    has_cost, has_px = df["cost"].notna(), df["price"].notna()
    ok = has_cost & has_px
    value = [round((float(px) / c - 1) * 100, 2) if o else None for o, px, c in zip(ok, df["price"], df["cost"])]
    return pd.DataFrame({
        "as_of": df["as_of"], "id": "etf.holders_pnl_pct", "subject": SUBJECT, "unit": "pct", "value": value,
        "kind": ["modelled" if c else "computed" for c in has_cost],
        "window": [s if o else "" for o, s in zip(ok, df["since"])],
        "note": [None if o else ("not available: no current price (price.last_usd) by T" if c
                                 else "not available: no cost basis") for o, c in zip(ok, has_cost)]})


def _event_rows(per: pd.DataFrame) -> pd.DataFrame:
    """The area's findings that depend only on the event (all but AUM and P&L), one set per event."""
    out = []
    for r in per.itertuples(index=False):
        out += _at(r)
    return pd.DataFrame(out)


def _at(r) -> list[dict]:
    day = r.day
    base = {"E": r.E, "subject": SUBJECT, "kind": "computed", "unit": "USD"}
    missing = [m for m in (r.missing_funds or "").split(",") if m]
    z = pc = None
    if r.h_n >= 20 and r.h_n >= MIN_HISTORY and r.h_std and pd.notna(r.h_std):
        z = round(float((r.value - r.h_mean) / r.h_std), 2)
        pc = round(100.0 * float(r.h_below) / int(r.h_n), 1)
    note = None
    if r.preliminary:
        note = (f"preliminary: {', '.join(missing)} had not reported in the vintage published "
                f"{_iso(r.vintage)}; the total covers the funds that had")  # as the snapshot writes it
    short = _short(r.h_n, r.h_std)
    if short:
        note = f"{note}; {short}" if note else short
    monday = day - dt.timedelta(days=day.weekday())
    n = int(r.run_n)
    streak = f"streak:{r.run_first}..{day}" if n else f"streak:none at {day}"
    snote = None if n else "the latest trading day was not a net outflow"
    rows = [
        {**base, "id": "etf.net_flow_usd", "value": float(r.value), "window": f"1d:{day}", "note": note,
         "zscore": z, "percentile": pc},
        {**base, "id": "etf.week_to_date_usd", "value": float(r.wtd), "window": f"wtd:{monday}..{day}"},
        {**base, "id": "etf.outflow_streak_days", "value": float(n), "unit": "days", "window": streak, "note": snote},
        {**base, "id": "etf.outflow_streak_usd", "value": float(r.run_usd) if n else 0.0, "window": streak,
         "note": snote},
        {**base, "id": "etf.cumulative_usd", "value": float(r.cum), "window": r.since},
    ]
    if pd.isna(r.cost):
        rows.append({**base, "id": "etf.holders_cost_basis_usd", "window": r.since,
                     "note": "not available: no priced net inflow (net BTC <= 0)"})
    else:
        unpriced = int(r.unpriced)
        rows.append({**base, "id": "etf.holders_cost_basis_usd", "value": round(r.cost, 2), "window": r.since,
                     "kind": "modelled",
                     "note": f"{unpriced} trading day(s) without a published close by T left out" if unpriced else None})
    return rows
