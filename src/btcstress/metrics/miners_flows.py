"""Miner revenue, flows and cycle indicators (the miners area's observed side): hashprice and daily
revenue, miner reserve and selling, the hash ribbon and the Puell multiple; plus the store helpers
the area shares (provenance per origin, trailing statistics). The production-cost model is in
`btcstress.fleet`; its findings in `metrics/miners.py`."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

from btcstress.findings import Finding, Source, not_available

CQ_PRICE = ("cryptoquant", "BTC-USD", "1d")
FLOW_METRICS = ("reserve_btc", "reserve_usd", "outflow_btc", "netflow_btc", "to_exchange_btc")


def provenance(ctx, table: str, metrics: tuple[str, ...], first: dt.date | None, last: dt.date | None,
                name_col: str = "metric", note: str | None = None) -> list[Source]:
    """Sources for the rows of `metrics` in [first, last], one per origin (counted in Ibis)."""
    t = ctx.table(table)
    t = t.filter(t[name_col].isin(list(metrics)))
    if first is not None:
        t = t.filter(t.date >= first)
    if last is not None:
        t = t.filter(t.date <= last)
    g = t.group_by("origin").aggregate(rows=t.count(), first=t.date.min(), last=t.date.max()).order_by("origin").execute()
    return [Source(table=table, origin=r.origin, rows=int(r.rows), first=ts(r.first), last=ts(r.last), note=note)
            for r in g.itertuples()]


def price_source(ctx, first: dt.date, last: dt.date, note: str | None = None) -> Source:
    c = ctx.table("candles")
    c = c.filter((c.venue == CQ_PRICE[0]) & (c.symbol == CQ_PRICE[1]) & (c.interval == CQ_PRICE[2])
                 & (c.open_time >= ts(first)) & (c.open_time <= ts(last)))
    g = c.aggregate(rows=c.count(), first=c.open_time.min(), last=c.open_time.max(),
                    origin=c.origin.max()).execute().iloc[0]
    return Source(table="candles", origin=str(g.origin), rows=int(g.rows), first=ts(g["first"]),
                  last=ts(g["last"]), note=note or "CryptoQuant daily close (venue cryptoquant, BTC-USD, 1d)")


def ts(v) -> dt.datetime | None:
    if v is None or (not isinstance(v, str) and pd.isna(v)):
        return None
    ts = pd.Timestamp(v)
    return ts.to_pydatetime().replace(tzinfo=None)


# Miner-flow rows read once per instant: the trailing window below covers every question the area asks
# of them (the last day, the 30-day change and the year of each before it, the 3-year chart); a
# question needing older rows reads them all (`flow_rows`).
FLOW_WINDOW_DAYS = 4 * 366 + 60


def flow_rows(ctx, first: dt.date | None = None) -> pd.DataFrame:
    """miner_flows_daily as known at T (date, metric, value, origin), holding at least the rows from
    `first` on and the latest day; one Ibis read per instant (kept on the context), or two when a
    question needs rows older than the window."""
    got = ctx.__dict__.get("_miners_flow_rows")
    if got is None:
        got = _read_flows(ctx, ctx.as_of_naive.date() - dt.timedelta(days=FLOW_WINDOW_DAYS))
    lo, df = got
    if lo is not None and (first is None and df.empty or first is not None and first < lo):
        got = _read_flows(ctx, None)
    ctx.__dict__["_miners_flow_rows"] = got
    return got[1]


def _read_flows(ctx, lo: dt.date | None) -> tuple[dt.date | None, pd.DataFrame]:
    t = ctx.table("miner_flows_daily")
    if lo is not None:
        t = t.filter(t.date >= lo)
    df = t.select("date", "metric", "value", "origin").execute()
    df["date"] = pd.to_datetime(df["date"]).astype("datetime64[s]")
    return lo, df


def provenance_of(df: pd.DataFrame, table: str, metrics: tuple[str, ...], first: dt.date | None,
                  last: dt.date | None, note: str | None = None) -> list[Source]:
    """`provenance` over rows read (date, metric, origin): one source per origin, in origin order."""
    m = df["metric"].isin(list(metrics))
    if first is not None:
        m &= df["date"] >= pd.Timestamp(first)
    if last is not None:
        m &= df["date"] <= pd.Timestamp(last)
    g = df[m].groupby("origin", sort=True)["date"].agg(["size", "min", "max"])
    return [Source(table=table, origin=o, rows=int(r["size"]), first=ts(r["min"]), last=ts(r["max"]), note=note)
            for o, r in g.iterrows()]


def window_stats(df: pd.DataFrame, metric: str, day: dt.date, value: float, days: int) -> dict | None:
    """`trailing_stats` over rows read."""
    h = df[(df["metric"] == metric) & (df["date"] < pd.Timestamp(day))
           & (df["date"] >= pd.Timestamp(day - dt.timedelta(days=days)))]
    n, v = len(h), h["value"].dropna()
    std = v.std()
    if n < days // 2 or not std or pd.isna(std):
        return None
    mean = float(v.mean())
    return {"zscore": round((value - mean) / float(std), 2), "percentile": round(100 * float((v <= value).mean()), 1),
            "history": f"{days}d daily", "mean": round(mean, 2), "std": round(float(std), 2), "n": n}


def _last_network_day(ctx) -> pd.DataFrame:
    t = ctx.table("network_daily")
    last = t.date.max()
    d = t.filter(t.date == last)
    return d.execute()


def revenue_findings(ctx, p: dict, price, hypo, price_sources) -> list[Finding]:
    T = ctx.as_of
    rows = _last_network_day(ctx)
    ids = ("miners.revenue_usd_1d", "miners.hashprice_usd_per_ph_day")
    if rows.empty:
        return [not_available(i, T, "no network data known at this instant") for i in ids]
    v = {r.metric: r.value for r in rows.itertuples()}
    day = pd.Timestamp(rows["date"].iloc[0]).date()
    used = rows[rows.metric.isin(["block_rewards_btc", "block_rewards_usd", "hashrate_hs"])]
    srcs = [Source(table="network_daily", origin=o, rows=len(g), first=ts(day), last=ts(day))
            for o, g in used.groupby("origin")]
    if "hashrate_hs" not in v or "block_rewards_btc" not in v:
        return [not_available(i, T, f"hashrate or block rewards missing for {day}") for i in ids]
    if hypo:
        revenue, how = v["block_rewards_btc"] * price, "block rewards (BTC, subsidy + fees) x hypothetical price"
        srcs = srcs + price_sources
    elif v.get("block_rewards_usd") is not None:
        revenue, how = v["block_rewards_usd"], "block rewards in USD as published (subsidy + fees at the day's price)"
    else:
        return [not_available(i, T, f"no USD block rewards for {day}") for i in ids]
    ph = v["hashrate_hs"] / 1e15
    hp = revenue / ph
    base = dict(as_of=T, window=f"1d:{day}", sources=srcs, hypothetical=hypo)
    t = ctx.table("network_daily")
    hist = t.filter((t.date < day) & (t.date >= day - dt.timedelta(days=int(p["zscore_window_days"]))))
    hh = hist.group_by("date").aggregate(
        usd=hist.value.max(where=hist.metric == "block_rewards_usd"),
        hs=hist.value.max(where=hist.metric == "hashrate_hs"))
    hh = hh.mutate(hp=hh.usd / (hh.hs / 1e15))
    st = hh.aggregate(n=hh.count(), mean=hh.hp.mean(), std=hh.hp.std(),
                      below=(hh.hp <= hp).cast("float64").mean()).execute().iloc[0]
    unusual = None
    if int(st.n) > 30 and st["std"]:
        unusual = {"zscore": round((hp - float(st["mean"])) / float(st["std"]), 2),
                   "percentile": round(100 * float(st.below), 1), "history": f"{int(st.n)}d daily", "n": int(st.n)}
    return [
        Finding(id="miners.revenue_usd_1d", value=round(revenue, 0), unit="USD", method=how,
                detail={"day": str(day), "block_rewards_btc": v["block_rewards_btc"], "fees_btc": v.get("fees_btc"),
                        "subsidy_btc": (v["block_rewards_btc"] - v["fees_btc"]) if "fees_btc" in v else None,
                        "blocks": v.get("blocks")}, **base),
        Finding(id="miners.hashprice_usd_per_ph_day", value=round(hp, 2), unit="USD/PH/day",
                method="miner revenue of the day (USD) / network hashrate that day (PH/s)",
                detail={"day": str(day), "revenue_usd": round(revenue, 0), "hashrate_ph_s": round(ph, 0),
                        "usd_per_th_day": round(hp / 1000, 4)}, unusual=unusual, **base),
    ]


FLOW_IDS = ("miners.reserve_btc", "miners.reserve_change_30d_btc", "miners.outflow_btc_1d", "miners.to_exchange_btc_1d")


def flow_findings(ctx, p: dict) -> list[Finding]:
    """Miner reserve, its 30-day change, outflow and to-exchange on the last miner-flow day known at T."""
    df = flow_rows(ctx)
    if df.empty:
        return [not_available(i, ctx.as_of, "no miner-flow data known at this instant") for i in FLOW_IDS]
    last_day = df["date"].max().date()
    d30 = last_day - dt.timedelta(days=30)
    zd = int(p["zscore_window_days"])
    df = flow_rows(ctx, d30 - dt.timedelta(days=zd))
    rows = df[df["date"].isin([pd.Timestamp(last_day), pd.Timestamp(d30)])]
    val = {(pd.Timestamp(r.date).date(), r.metric): r for r in rows.itertuples()}
    return _reserve_findings(ctx, df, val, last_day, d30, zd) + _daily_flow_findings(ctx, df, val, last_day, zd)


def _flow_sources(val: dict, metric: str, days: list[dt.date]) -> list[Source]:
    return [Source(table="miner_flows_daily", origin=val[(d, metric)].origin, rows=1, first=ts(d), last=ts(d))
            for d in days if (d, metric) in val]


def _reserve_findings(ctx, df: pd.DataFrame, val: dict, last_day: dt.date, d30: dt.date, zd: int) -> list[Finding]:
    T = ctx.as_of
    out = []
    r = val.get((last_day, "reserve_btc"))
    if r is None:
        out.append(not_available("miners.reserve_btc", T, f"no miner reserve for {last_day}"))
    else:
        out.append(Finding(id="miners.reserve_btc", value=round(r.value, 0), unit="BTC", as_of=T,
                           window=f"1d:{last_day}", sources=_flow_sources(val, "reserve_btc", [last_day]),
                           method="BTC held by wallets CryptoQuant labels as miners (all miners), end of day",
                           detail={"day": str(last_day), "reserve_usd": getattr(val.get((last_day, "reserve_usd")),
                                                                                 "value", None)}))
    r0 = val.get((d30, "reserve_btc"))
    if r is None or r0 is None:
        out.append(not_available("miners.reserve_change_30d_btc", T, f"miner reserve missing on {d30} or {last_day}"))
        return out
    chg = r.value - r0.value
    # How unusual: against the trailing year of 30-day changes (a self-join on date - 30).
    res = df.loc[df["metric"] == "reserve_btc", ["date", "value"]]
    j = res.rename(columns={"value": "v"}).merge(
        res.assign(date=res["date"] + pd.Timedelta(days=30)).rename(columns={"value": "v0"}), on="date")
    j = j[(j["date"] < pd.Timestamp(last_day)) & (j["date"] >= pd.Timestamp(last_day - dt.timedelta(days=zd)))]
    c = (j["v"] - j["v0"]).dropna()
    st = pd.Series({"n": len(j), "mean": c.mean(), "std": c.std(), "below": (c <= chg).mean()})
    unusual = ({"zscore": round((chg - float(st["mean"])) / float(st["std"]), 2),
                "percentile": round(100 * float(st.below), 1), "history": f"{int(st.n)}d of 30d changes",
                "n": int(st.n)}
               if int(st.n) > 30 and st["std"] else None)
    out.append(Finding(id="miners.reserve_change_30d_btc", value=round(chg, 0), unit="BTC", as_of=T,
                       window=f"30d:{d30}..{last_day}", sources=_flow_sources(val, "reserve_btc", [d30, last_day]),
                       method="miner reserve at the last day minus 30 days earlier",
                       detail={"from": str(d30), "to": str(last_day), "reserve_from": round(r0.value, 0),
                               "reserve_to": round(r.value, 0), "change_pct": round(chg / r0.value * 100, 2)},
                       unusual=unusual))
    return out


def _daily_flow_findings(ctx, df: pd.DataFrame, val: dict, last_day: dt.date, zd: int) -> list[Finding]:
    T = ctx.as_of
    out = []
    for fid, metric, what in (("miners.outflow_btc_1d", "outflow_btc", "total BTC leaving miner wallets"),
                              ("miners.to_exchange_btc_1d", "to_exchange_btc", "BTC sent from miner wallets to exchanges")):
        r = val.get((last_day, metric))
        if r is None:
            out.append(not_available(fid, T, f"no {metric} for {last_day}"))
            continue
        st = window_stats(df, metric, last_day, r.value, zd)
        out.append(Finding(id=fid, value=round(r.value, 1), unit="BTC", as_of=T, window=f"1d:{last_day}",
                           sources=_flow_sources(val, metric, [last_day]) + provenance_of(
                               df, "miner_flows_daily", (metric,), last_day - dt.timedelta(days=zd),
                               last_day - dt.timedelta(days=1), note="trailing year for the z-score"),
                           method=f"{what} on the last complete day (CryptoQuant, all miners); z-score and "
                                  f"percentile against the {zd} days before",
                           detail={"day": str(last_day), **({"zscore": st["zscore"], "percentile": st["percentile"],
                                                             "trailing_mean": st["mean"], "trailing_std": st["std"]}
                                                            if st else {})},
                           unusual=st and {k: st[k] for k in ("zscore", "percentile", "history", "n")}))
    return out


def ribbon_and_puell(ctx, full: pd.DataFrame | None, p: dict) -> list[Finding]:
    T = ctx.as_of
    out = []
    if full is None:
        return [not_available("miners.hash_ribbon", T, "no hashrate known at this instant", unit="state"),
                not_available("miners.puell_multiple", T, "no block rewards known at this instant", unit="index")]
    df = full.dropna(subset=["sma_short", "sma_long"])
    r1, r2 = int(p["ribbon_short_days"]), int(p["ribbon_long_days"])
    if df.empty:
        out.append(not_available("miners.hash_ribbon", T, f"fewer than {r2} days of hashrate", unit="state"))
    else:
        below = (df["sma_short"] < df["sma_long"]).to_numpy()
        last = df.iloc[-1]
        state = "capitulation" if below[-1] else "no capitulation"
        flips = np.nonzero(below[1:] != below[:-1])[0]
        cross = df["date"].iloc[flips[-1] + 1].date() if len(flips) else None
        days_since = (last["date"].date() - cross).days if cross else None
        # Edwards' buy signal: after capitulation ends (30d back above 60d), price momentum turns up
        # (10-day SMA of price above its 20-day SMA).
        closes = full["close"].dropna()
        mom = bool(closes.tail(10).mean() > closes.tail(20).mean()) if len(closes) >= 20 else None
        day = last["date"].date()
        out.append(Finding(
            id="miners.hash_ribbon", value=state, unit="state", as_of=T, window=f"{r2}d:{day}",
            sources=provenance(ctx, "network_daily", ("hashrate_hs",), day - dt.timedelta(days=r2 - 1), day),
            params={k: p[k] for k in ("ribbon_short_days", "ribbon_long_days")},
            method=f"Hash Ribbons (Charles Edwards, 2019): capitulation while the {r1}-day SMA of hashrate is below "
                   f"the {r2}-day SMA; days since the last cross of the two",
            detail={"day": str(day), "sma_short_hs": float(last["sma_short"]), "sma_long_hs": float(last["sma_long"]),
                    "ratio": round(float(last["sma_short"] / last["sma_long"]), 4),
                    "last_cross": str(cross) if cross else None, "days_since_cross": days_since,
                    "last_cross_direction": ("down (capitulation began)" if below[-1] else "up (capitulation ended)")
                    if cross else None,
                    "price_momentum_up_10d_vs_20d": mom}))
    pu = full.dropna(subset=["puell"])
    if pu.empty:
        out.append(not_available("miners.puell_multiple", T, f"fewer than {p['puell_window_days']} days of USD "
                                                             "block rewards", unit="index"))
    else:
        last = pu.iloc[-1]
        day = last["date"].date()
        ind = ctx.table("indicators_daily")
        cq = ind.filter((ind.name == "puell_multiple") & (ind.date == day)).execute()
        cqv = float(cq["value"].iloc[0]) if not cq.empty else None
        w = int(p["puell_window_days"])
        out.append(Finding(
            id="miners.puell_multiple", value=round(float(last["puell"]), 3), unit="index", as_of=T,
            window=f"{w}d:{day}",
            sources=provenance(ctx, "network_daily", ("block_rewards_usd",), day - dt.timedelta(days=w - 1), day),
            params={"puell_window_days": w},
            method=f"daily miner issuance in USD (block rewards incl. fees, as CryptoQuant) / its {w}-day SMA",
            detail={"day": str(day), "issuance_usd": float(last["block_rewards_usd"]),
                    "cryptoquant_puell_multiple": cqv}))
    return out


