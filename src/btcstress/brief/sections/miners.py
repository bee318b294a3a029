"""The miners section: price against the modelled all-in production cost, hashprice, miner reserve
and selling. Words and formatting only: every number is a finding or a series."""

from __future__ import annotations

from btcstress.brief import Highlight, charts, fmt
from btcstress.brief.model import Chart, Paragraph, Ref, Section, TableBlock
from btcstress.findings import FindingSet, Series
from btcstress.metrics.stats import past

PRICE_COLOR, COST_COLOR, BAND_COLOR = charts.INK, charts.PALETTE[3], "rgba(214,140,69,0.18)"


def highlights(fs: FindingSet) -> list[Highlight]:
    """Miner selling and margins, when unusual against their own year."""
    out = []
    o, toex = fs.get("miners.outflow_btc_1d"), fs.get("miners.to_exchange_btc_1d")
    if o is not None and o.value is not None and o.unusual and o.unusual.get("zscore") is not None:
        z = o.unusual["zscore"]
        p = ["Miners moved ", fmt.ref(o, "BTC"), f" out of their wallets on {fmt.long_date(o.detail['day'])} "
             f"({z:+.1f}σ against {past(o.unusual)})"]
        if toex is not None and toex.value is not None:
            p += [", ", fmt.ref(toex, "BTC"), " of it to exchanges"]
        p.append(".")
        out.append(Highlight(abs(z), Paragraph(parts=p)))
    m, cost = fs.get("miners.margin_pct"), fs.get("miners.production_cost_usd")
    if (m is not None and m.value is not None and m.value < 0 and cost is not None and m.unusual
            and m.unusual.get("zscore") is not None):
        z = m.unusual["zscore"]
        out.append(Highlight(abs(z), Paragraph.of(
            "Miners are under water: the price is ", Ref(text=fmt.pct(abs(m.detail["price_vs_cost_pct"])), finding=m),
            " below the modelled all-in cost of ", fmt.ref(cost), f" per BTC ({z:+.1f}σ margin against {past(m.unusual)}).")))
    return out


def build(fs: FindingSet) -> Section | None:
    g = fs.get
    cost, margin, under = g("miners.production_cost_usd"), g("miners.margin_pct"), g("miners.hashrate_underwater_pct")
    if cost is None and g("miners.reserve_btc") is None:
        return None
    paras: list[Paragraph] = []
    if cost is not None and cost.value is not None and margin is not None and margin.value is not None:
        d = margin.detail
        gap = d["price_vs_cost_pct"]
        water, side = ("under water", "below") if gap < 0 else ("above water", "above")
        p = [f"Miners are {water}: at ", Ref(text=fmt.usd(d["price_usd"]), finding=margin),
             " the price is ", Ref(text=fmt.pct(abs(gap)), finding=margin),
             f" {side} the modelled all-in cost of ", fmt.ref(cost), " per BTC (a margin of ", fmt.ref(margin, "pct"),
             " of revenue)"]
        if under is not None and under.value is not None:
            p += ["; ", fmt.ref(under, "pct", digits=0), " of the modelled hashrate has an all-in cost above the price"]
        p.append(".")
        if margin.hypothetical:
            p.append(" (Hypothetical price.)")
        paras.append(Paragraph(parts=p))
        elec, be = g("miners.electricity_cost_usd"), g("miners.breakeven_power_price_usd_kwh")
        if elec is not None and elec.value is not None:
            q = ["Electricity alone costs ", fmt.ref(elec), " per BTC at ",
                 Ref(text=f"${cost.params['power_price_usd_kwh']}/kWh", finding=cost), " for a fleet averaging ",
                 Ref(text=f"{cost.detail['fleet_j_per_th']:.1f} J/TH", finding=cost)]
            if be is not None and be.value is not None:
                q += ["; the average fleet covers its cash costs below ", Ref(text=f"${be.value:.3f}/kWh", finding=be)]
            q.append(".")
            paras.append(Paragraph(parts=q))
    hp, rev = g("miners.hashprice_usd_per_ph_day"), g("miners.revenue_usd_1d")
    if hp is not None and hp.value is not None:
        p = ["Hashprice was ", Ref(text=f"${hp.value:,.2f} per PH/s per day", finding=hp), " on ",
             fmt.long_date(hp.detail["day"]), " (miner revenue ", fmt.ref(rev, "usd_short"), ")"]
        if hp.unusual and hp.unusual.get("percentile") is not None:
            p.append(f", {_rank(hp.unusual['percentile'])} of {past(hp.unusual)}")
        p.append(".")
        paras.append(Paragraph(parts=p))
    res, chg, out, toex = (g("miners.reserve_btc"), g("miners.reserve_change_30d_btc"), g("miners.outflow_btc_1d"),
                           g("miners.to_exchange_btc_1d"))
    if res is not None and res.value is not None:
        p = ["Miner wallets held ", fmt.ref(res), " (", fmt.ref(chg, "BTC"), " over 30 days)"]
        if out is not None and out.value is not None:
            p += [". They sent out ", fmt.ref(out, "BTC"), " that day"]
            if out.unusual and out.unusual.get("zscore") is not None:
                p.append(f", {out.unusual['zscore']:+.1f} standard deviations from {past(out.unusual)}")
            if toex is not None and toex.value is not None:
                p += [", of which ", fmt.ref(toex, "BTC"), " to exchanges"]
        p.append(".")
        paras.append(Paragraph(parts=p))
    rib, puell = g("miners.hash_ribbon"), g("miners.puell_multiple")
    if rib is not None and rib.value is not None:
        d = rib.detail
        p = ["Hash ribbon: ", fmt.ref(rib)]
        if d.get("last_cross"):
            p.append(f" since {fmt.long_date(d['last_cross'])} ({d['days_since_cross']} days)")
        if puell is not None and puell.value is not None:
            p += ["; Puell multiple ", fmt.ref(puell, digits=2)]
        p.append(".")
        paras.append(Paragraph(parts=p))
    tables = []
    if cost is not None and cost.value is not None:
        grid = cost.detail.get("sensitivity", {})
        rows = [[f"{k} (${v['power_price_usd_kwh']}/kWh)",
                 Ref(text=fmt.usd(v["fleet_low_most_efficient"]), finding=cost),
                 Ref(text=fmt.usd(v["fleet_base_weighted"]), finding=cost),
                 Ref(text=fmt.usd(v["fleet_high_least_efficient_running"]), finding=cost)] for k, v in grid.items()]
        tables.append(TableBlock(caption="Modelled all-in cost per BTC: power price x fleet efficiency",
                                 # Labels say what the numbers are: the newest machines carry their capex,
                                 # the oldest running ones have paid it off (so they can be the cheaper).
                                 columns=["power price", "newest cohort (with capex)", "fleet mix (base)",
                                          "oldest cohort still running (capex paid off)"], rows=rows,
                                 align=["l", "r", "r", "r"]))
    notes = [Paragraph.of("Production cost is modelled, not observed: ASIC cohorts with cited efficiencies and prices, "
                          "cited power price, PUE and opex multiplier; see docs/METRICS.md#miners for every "
                          "parameter and where the model is weak.")]
    return Section(id="miners", title="Miners", paragraphs=paras, tables=tables, charts=_charts(fs), notes=notes)


def _rank(p: float) -> str:
    if round(p) <= 0:
        return "the lowest"
    if round(p) >= 100:
        return "the highest"
    return f"in the lowest {p:.0f}%" if p < 50 else f"in the highest {100 - p:.0f}%"


def _charts(fs: FindingSet) -> list[Chart]:
    out = []
    s: Series | None = fs.series.get("miners.cost_vs_price_3y")
    if s is not None:
        e = s.extra
        fig = {"data": [
            {"type": "scatter", "mode": "lines", "x": s.x, "y": e["all_in_high"], "line": {"width": 0},
             "name": "cost, high power price", "showlegend": False, "hoverinfo": "skip"},
            {"type": "scatter", "mode": "lines", "x": s.x, "y": e["all_in_low"], "line": {"width": 0},
             "fill": "tonexty", "fillcolor": BAND_COLOR, "name": f"cost band ({e['band']})"},
            {"type": "scatter", "mode": "lines", "x": s.x, "y": s.y, "name": "modelled all-in cost",
             "line": {"color": COST_COLOR, "width": 2}},
            {"type": "scatter", "mode": "lines", "x": s.x, "y": e["electricity"], "name": "electricity only",
             "line": {"color": COST_COLOR, "width": 1, "dash": "dot"}},
            {"type": "scatter", "mode": "lines", "x": s.x, "y": e["price"], "name": "BTC close",
             "line": {"color": PRICE_COLOR, "width": 1.5}}],
            "layout": charts.layout(yaxis_title="USD per BTC", height=300, showlegend=True)}
        out.append(Chart(id="miners_cost", title=s.title, figure=fig, sources=s.sources, height=300,
                         caption="Daily close against the modelled all-in cost; the band spans the power-price "
                                 "sensitivity at the base fleet mix."))
    for name, cid, color in (("miners.hashprice_3y", "miners_hashprice", COST_COLOR),
                             ("miners.reserve_3y", "miners_reserve", PRICE_COLOR)):
        s = fs.series.get(name)
        if s is None:
            continue
        fig = {"data": [{"type": "scatter", "mode": "lines", "x": s.x, "y": s.y, "name": s.title,
                         "line": {"color": color, "width": 1.5}}],
               "layout": charts.layout(yaxis_title=s.unit, height=260)}
        out.append(Chart(id=cid, title=s.title, figure=fig, sources=s.sources, height=260))
    return out
