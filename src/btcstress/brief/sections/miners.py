"""The miners section: price against the modelled production cost (electricity, cash, all-in, marginal)
beside the published estimates (cited), hashprice, miner reserve and selling. Words and formatting only: every number is a finding or a series."""

from __future__ import annotations

from btcstress.brief import Highlight, charts, fmt
from btcstress.brief.model import Chart, Paragraph, Ref, Section, TableBlock
from btcstress.details import CostModel
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
             f"({fmt.sigma(z)} against {past(o.unusual)})"]
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
            " below the modelled all-in cost of ", fmt.ref(cost), f" per BTC{_latest_network_day(m, fs)} "
            f"({fmt.sigma(z)} margin against {past(m.unusual)}).")))
    return out


def build(fs: FindingSet) -> Section | None:
    g = fs.get
    cost = g("miners.production_cost_usd")
    if cost is None and g("miners.reserve_btc") is None:
        return None
    paras: list[Paragraph] = []
    if cost is not None and cost.value is not None:
        paras += _cost_paragraphs(fs)
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
        old = fmt.older_day(res, fs.as_of)
        p = ["Miner wallets held ", fmt.ref(res), f" on {old}, the latest day of their data" if old else "",
             " (", fmt.ref(chg, "BTC"), " over 30 days)"]
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
        old = fmt.older_day(rib, fs.as_of)
        p = [f"Hash ribbon on {old}, the latest day of network data: " if old else "Hash ribbon: ", fmt.ref(rib)]
        if d.get("last_cross"):
            n = d['days_since_cross']
            p.append(f" since {fmt.long_date(d['last_cross'])} ({n} day{'' if n == 1 else 's'})")
        if puell is not None and puell.value is not None:
            p += ["; Puell multiple ", fmt.ref(puell, digits=2)]
        p.append(".")
        paras.append(Paragraph(parts=p))
    tables = [t for t in (_comparison(fs), _sensitivity(cost)) if t is not None]
    notes = [Paragraph.of("Production cost is modelled, not observed: sourced ASIC generations (efficiency, release, "
                          "price per TH), a spread of sourced power prices for which machines run, a stated power "
                          "price for the cost itself, and a sourced depreciation schedule. Published estimates are "
                          "cited beside it, never mixed in; see docs/METRICS.md#miners for every parameter, its "
                          "source and the walk-forward validation against the published estimates.")]
    return Section(id="miners", title="Miners", paragraphs=paras, tables=tables, charts=_charts(fs), notes=notes)


def _latest_network_day(f, fs: FindingSet) -> str:
    """' on April 10, 2026, the latest day of network data' when the modelled value is older than the
    brief's day (the network rows end before the price's): a cost days old is not stated as today's."""
    day = fmt.older_day(f, fs.as_of)
    return f" on {day}, the latest day of network data" if day else ""


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
            {"type": "scatter", "mode": "lines", "x": s.x, "y": e["cash"], "name": "cash cost",
             "line": {"color": COST_COLOR, "width": 1, "dash": "dash"}},
            {"type": "scatter", "mode": "lines", "x": s.x, "y": e["electricity"], "name": "electricity only",
             "line": {"color": COST_COLOR, "width": 1, "dash": "dot"}},
            {"type": "scatter", "mode": "lines", "x": s.x, "y": e["price"], "name": "BTC close",
             "line": {"color": PRICE_COLOR, "width": 1.5}}],
            "layout": charts.layout(yaxis_title="USD per BTC", height=300, showlegend=True)}
        pub = [p for p in e.get("published_cited", []) if p["date"] >= s.x[0]]
        if pub:
            fig["data"].append({"type": "scatter", "mode": "markers", "x": [p["date"] for p in pub],
                                "y": [p["value_usd"] for p in pub], "name": "published estimates (cited)",
                                "text": [f"{p['publisher']} {p['date']}: {p['definition'] or 'definition not stated'}"
                                         for p in pub], "marker": {"symbol": "diamond", "size": 9, "color": PRICE_COLOR}})
        out.append(Chart(id="miners_cost", title=s.title, figure=fig, sources=s.sources, height=300,
                         caption="Daily close against the modelled all-in, cash and electricity cost; the band spans "
                                 "the power-price sensitivity at the base fleet mix; diamonds are published estimates "
                                 "(cited, each with its own definition)."))
    s = fs.series.get("miners.network_power_3y")
    if s is not None:
        fig = {"data": [
            {"type": "scatter", "mode": "lines", "x": s.x, "y": s.y, "name": "modelled network power (GW)",
             "line": {"color": COST_COLOR, "width": 1.5}},
            {"type": "scatter", "mode": "lines", "x": s.x, "y": s.extra["fleet_j_per_th"], "yaxis": "y2",
             "name": "modelled fleet efficiency (J/TH)", "line": {"color": PRICE_COLOR, "width": 1, "dash": "dot"}}],
            "layout": charts.layout(yaxis_title="GW", height=260, showlegend=True,
                                    yaxis2={"title": {"text": "J/TH"}, "overlaying": "y", "side": "right",
                                            "showgrid": False})}
        cam = [f for f in fs.all("miners.cambridge_electricity_twh") if f.detail.get("average_power_gw")]
        cam = [f for f in cam if f"{f.subject}-12-31" >= s.x[0]]
        if cam:  # Cambridge's yearly averages, cited, at mid-year
            fig["data"].append({"type": "scatter", "mode": "markers", "x": [f"{f.subject}-07-01" for f in cam],
                                "y": [f.detail["average_power_gw"] for f in cam],
                                "name": "Cambridge, yearly average (cited)",
                                "marker": {"symbol": "diamond", "size": 9, "color": PRICE_COLOR}})
        out.append(Chart(id="miners_fleet", title=s.title, figure=fig, sources=s.sources, height=260,
                         caption="The running fleet's power draw and hashrate-weighted efficiency, from the fleet "
                                 "model; diamonds are Cambridge's published yearly averages (cited)."))
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


DEFINITION_LABEL = {"electricity": "electricity only", "cash": "cash cost", "all_in": "all-in",
                    "marginal": "marginal (least efficient running)", None: "definition not stated"}


def _cost_paragraphs(fs: FindingSet) -> list[Paragraph]:
    g = fs.get
    cost, margin, under, under_cash = (g("miners.production_cost_usd"), g("miners.margin_pct"),
                                       g("miners.hashrate_underwater_pct"), g("miners.hashrate_underwater_cash_pct"))
    elec, cash, marg = g("miners.electricity_cost_usd"), g("miners.cash_cost_usd"), g("miners.marginal_cost_usd")
    pp = Ref(text=f"${cost.detail['power_price_usd_kwh']}/kWh", finding=cost)
    out = []
    if margin is not None and margin.value is not None:
        d = margin.detail
        gap = d["price_vs_cost_pct"]
        water, side = ("under water", "below") if gap < 0 else ("above water", "above")
        p = [f"On an all-in basis (cash cost plus depreciation of the machines running) miners are {water}: at ",
             Ref(text=fmt.usd(d["price_usd"]), finding=margin), " the price is ", Ref(text=fmt.pct(abs(gap)), finding=margin),
             f" {side} the modelled all-in cost of ", fmt.ref(cost), " per BTC at ", pp,
             _latest_network_day(margin, fs)]
        if under is not None and under.value is not None:
            p += ["; ", fmt.ref(under, "pct", digits=0), " of the running hashrate has an all-in cost above the price"]
        if under_cash is not None and under_cash.value is not None:
            p += [", ", fmt.ref(under_cash, "pct", digits=0), " a cash cost above it"]
        p.append(".")
        if margin.hypothetical:
            p.append(" (Hypothetical price.)")
        out.append(Paragraph(parts=p))
    old = fmt.older_day(cost, fs.as_of)
    q = [f"On {old}, the same fleet cost " if old else "The same fleet costs ", fmt.ref(elec),
         " per BTC in electricity alone and ", fmt.ref(cash),
         " in cash (electricity and other operating costs); its least efficient running machines (",
         Ref(text=str((marg.detail if marg is not None else {}).get("least_efficient_running", "n/a")), finding=marg or cost),
         ") cost ", fmt.ref(marg), " in cash"]
    power, eff = g("miners.network_power_gw"), g("miners.fleet_j_per_th")
    if power is not None and power.value is not None:
        q += [". Modelled network power: ", Ref(text=f"{power.value:.1f} GW", finding=power), " at ",
              Ref(text=f"{eff.value:.1f} J/TH", finding=eff) if eff is not None and eff.value is not None else fmt.NA]
        cam = [f for f in fs.all("miners.cambridge_fleet_j_per_th") + fs.all("miners.cambridge_electricity_twh")]
        if cam:
            q.append(" (Cambridge, cited: ")
            for i, c in enumerate(sorted(cam, key=lambda c: (c.subject, c.unit))):
                q += ["; " if i else "", Ref(text=f"{c.value:g} {c.unit} in {c.subject}", finding=c)]
            q.append(")")
    q.append(".")
    out.append(Paragraph(parts=q))
    return out


def _comparison(fs: FindingSet) -> TableBlock | None:
    """The model's definitions beside the published estimates known at T, each labelled; never mixed."""
    rows = []
    for fid, label in (("miners.electricity_cost_usd", "electricity"), ("miners.cash_cost_usd", "cash"),
                       ("miners.production_cost_usd", "all_in"), ("miners.marginal_cost_usd", "marginal")):
        f = fs.get(fid)
        if f is None or f.value is None:
            continue
        rows.append(["btcstress model", "modelled", DEFINITION_LABEL[label] + f" at ${f.detail['power_price_usd_kwh']}/kWh",
                     fmt.long_date(f.detail["day"]), fmt.ref(f)])
    for f in sorted(fs.all("miners.published_cost_usd"), key=lambda f: f.detail.get("known_from", "")):
        d = f.detail
        how = DEFINITION_LABEL.get(d.get("definition"), "definition not stated")
        if d.get("definition_from", "stated") != "stated":
            how += f" ({d['definition_from']})"
        rows.append([d.get("publisher", f.subject), "cited", how, d.get("published", ""), fmt.ref(f)])
    if not rows:
        return None
    return TableBlock(caption="Production cost per BTC: the model's definitions and the estimates published by "
                              "then (cited, as published)",
                      columns=["source", "kind", "definition", "as of", "USD per BTC"], rows=rows,
                      align=["l", "l", "l", "l", "r"])


def _sensitivity(cost) -> TableBlock | None:
    if cost is None or cost.value is None:
        return None
    grid = CostModel.of(cost).sensitivity
    rows = [[f"{k} (${v.power_price_usd_kwh}/kWh)",
             Ref(text=fmt.usd(v.fleet_low_most_efficient), finding=cost),
             Ref(text=fmt.usd(v.fleet_base_weighted), finding=cost),
             Ref(text=fmt.usd(v.fleet_high_least_efficient_running), finding=cost)] for k, v in grid.items()]
    # Labels say what the numbers are: the newest machines carry their capex, the oldest still running
    # have paid it off, so they can be the cheaper of the two (brief/lint.py `grid_labels`).
    return TableBlock(caption="Modelled all-in cost per BTC: power price x fleet efficiency",
                      columns=["power price", "newest generation (with capex)", "fleet mix (base)",
                               "oldest generation still running (capex paid off)"], rows=rows,
                      align=["l", "r", "r", "r"])
