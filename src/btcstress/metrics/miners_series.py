"""The miners area's charts (three years of modelled cost vs price, network power, hashprice and the
miner reserve), from the same model run as its findings (metrics/miners.py)."""

from __future__ import annotations

import pandas as pd

from btcstress.findings import Series
from btcstress.metrics import miners_cited, miners_flows as flows
from btcstress.metrics.miners import _model_sources, model, params
from btcstress.metrics.miners_flows import provenance


def series(ctx) -> list[Series]:
    p = params(ctx)
    m = model(ctx, p)
    if m is None:
        return []
    h = m.history
    end = h["date"].iloc[-1]
    start = end - pd.DateOffset(years=int(p["chart_years"]))
    h = h[h["date"] > start]
    xs = [d.date().isoformat() for d in h["date"]]

    def col(c, digits=2):
        return [None if pd.isna(v) else round(float(v), digits) for v in h[c]]

    srcs = _model_sources(ctx, m)
    published = [{"date": r["published"], "value_usd": r["value_usd"], "publisher": r["publisher"],
                  "definition": r["definition"], "stated": r["note"], "url": r["url"], "kind": "cited"}
                 for r in miners_cited.published(ctx)]
    out = [Series(
        name="miners.cost_vs_price_3y", title="BTC price vs modelled production cost", unit="USD",
        x=xs, y=col("all_in"), sources=srcs,
        extra={"price": col("close"), "all_in_low": col("all_in_low"), "all_in_high": col("all_in_high"),
               "electricity": col("electricity"), "cash": col("cash"), "marginal": col("marginal"),
               "fleet_j_per_th": col("fleet_j_per_th"), "published_cited": published,
               "band": f"power price {p['power_price_low_usd_kwh']}..{p['power_price_high_usd_kwh']} USD/kWh"}),
        Series(name="miners.network_power_3y", title="Modelled network power (GW) and fleet efficiency (J/TH)",
               unit="GW", x=xs, y=col("network_power_gw"), sources=srcs, extra={"fleet_j_per_th": col("fleet_j_per_th")})]
    f = m.full
    f = f[(f["date"] > start) & f["block_rewards_usd"].notna() & f["hashrate_hs"].notna()]
    out.append(Series(
        name="miners.hashprice_3y", title="Hashprice (USD per PH/s per day)", unit="USD/PH/day",
        x=[d.date().isoformat() for d in f["date"]],
        y=[round(float(a / (b / 1e15)), 2) for a, b in zip(f["block_rewards_usd"], f["hashrate_hs"])],
        sources=provenance(ctx, "network_daily", ("block_rewards_usd", "hashrate_hs"), start.date(), end.date())))
    fl = flows.flow_rows(ctx, start.date())  # the rows the flow findings read
    res = fl[fl["metric"] == "reserve_btc"].groupby("date", sort=True)["value"].max()
    res = res[(res.index > start) & res.notna()]
    out.append(Series(
        name="miners.reserve_3y", title="Miner reserve (BTC, all miners)", unit="BTC",
        x=[d.date().isoformat() for d in res.index], y=[round(float(v), 0) for v in res],
        sources=flows.provenance_of(fl, "miner_flows_daily", ("reserve_btc",), start.date(), None)))
    return out
