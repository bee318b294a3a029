"""The price section: where Bitcoin trades, how far it fell, and against what history."""

from __future__ import annotations

from btcstress.brief import Highlight, charts, fmt
from btcstress.brief.model import Chart, Paragraph, Ref, Section
from btcstress.brief.sections.headline import gains_since_event
from btcstress.findings import FindingSet


def build(fs: FindingSet) -> Section:
    g = fs.get
    last, low, change24, drop = g("price.last_usd"), g("price.low_24h_usd"), g("price.change_24h_pct"), g("price.max_drop_24h_pct")
    paras = []
    if last is not None and last.value is not None:
        p = [f"Bitcoin last traded at ", fmt.ref(last), f" ({last.detail.get('market', '')}, bar closed "
             f"{last.detail.get('bar_close', '')}), ", fmt.ref(change24, "pct", signed=True), " over 24 hours"]
        if low is not None and low.value is not None:
            p += [", after a low of ", fmt.ref(low), f" in the bar opened {low.detail.get('bar_open', '')}"]
        if drop is not None and drop.value is not None:
            p += [". Peak to trough within the window it fell ", fmt.ref(drop, "pct"), " (from ",
                  Ref(text=fmt.usd(drop.detail["from_high"]), finding=drop), ")"]
        p.append(".")
        paras.append(Paragraph(parts=p))
    since = g("price.lowest_since_date")
    if since is not None and since.value is not None:
        paras.append(Paragraph.of("That low was the lowest since ", fmt.ref(since, "date"),
                                  ": no daily low in between went as deep."))
    close, chg = g("price.close_usd"), g("price.change_1d_pct")
    if close is not None and close.value is not None:
        p = [f"On {fmt.long_date(close.detail['date'])} it closed at ", fmt.ref(close), " (",
             fmt.ref(chg, "pct", signed=True), " on the day"]
        if chg is not None and chg.unusual and chg.unusual.get("zscore") is not None:
            p += [f"; a {chg.unusual['zscore']:+.1f} standard-deviation move against the past year, "
                  f"in the {_ordinal_pct(chg.unusual['percentile'])} of all days since 2009"]
        p.append(").")
        paras.append(Paragraph(parts=p))
    ath, dd = g("price.ath_usd"), g("price.drawdown_from_ath_pct")
    if ath is not None and ath.value is not None:
        paras.append(Paragraph.of("It stands ", fmt.ref(dd, "pct"), " below its all-time high of ", fmt.ref(ath),
                                  f", set on {fmt.long_date(ath.detail['date'])}."))
    below = g("price.below_event")
    if below is not None and below.value:
        named = ", ".join(f"{e['title']} ({fmt.long_date(e['date'])}, close {fmt.usd(e['close'])})"
                          for e in below.detail["events"][:6])
        paras.append(Paragraph.of("The price is below the close on the day of: ", Ref(text=named, finding=below), "."))
    return Section(id="price", title="Price", paragraphs=paras, charts=_charts(fs))


def _ordinal_pct(p: float) -> str:
    return f"lowest {p:.1f}%" if p < 50 else f"highest {100 - p:.1f}%"


def _charts(fs: FindingSet) -> list[Chart]:
    out = []
    daily = fs.series.get("price.daily_180d")
    if daily is not None:
        fig = {"data": [charts.candles(daily)],
               "layout": charts.layout(yaxis_title="USD", xaxis={"rangeslider": {"visible": False},
                                                                  "gridcolor": charts.GRID})}
        ath = fs.get("price.ath_usd")
        event = gains_since_event(fs)
        shapes, notes = [], []
        if event is not None:
            s, a = charts.hline(event["close"], f"{event['title']} close {fmt.usd(event['close'])}")
            shapes.append(s), notes.append(a)
        fig["layout"]["shapes"], fig["layout"]["annotations"] = shapes, notes
        out.append(Chart(id="price_daily", title=daily.title, figure=fig, sources=daily.sources,
                         caption="Daily bars, 00:00 UTC close."))
    hourly = fs.series.get("price.hourly_48h")
    if hourly is not None:
        m = hourly.extra["low_marker"]
        fig = {"data": [charts.line(hourly, name="close"),
                        charts.line(hourly, name="low", y=hourly.extra["low"], color=charts.MUTED, width=1, dash="dot"),
                        charts.marker(m["x"], m["y"], f"low {fmt.usd(m['y'])}")],
               "layout": charts.layout(yaxis_title="USD")}
        out.append(Chart(id="price_hourly", title=hourly.title, figure=fig, sources=hourly.sources,
                         caption="Hourly closes (solid) and lows (dotted); the trailing-24h low is marked."))
    return out


def highlights(fs: FindingSet) -> list[Highlight]:
    out = []
    chg = fs.get("price.change_1d_pct")
    if chg is not None and chg.value is not None and chg.unusual and chg.unusual.get("zscore") is not None:
        z = chg.unusual["zscore"]
        out.append(Highlight(abs(z), Paragraph.of(
            f"Bitcoin moved ", fmt.ref(chg, "pct", signed=True), f" on {fmt.long_date(chg.detail['date'])}: "
            f"a {z:+.1f}σ day against the past year's daily moves.")))
    since = fs.get("price.lowest_since_date")
    low = fs.get("price.low_24h_usd")
    if since is not None and since.value is not None and low is not None:
        out.append(Highlight(3.0, Paragraph.of("The trailing-24h low of ", fmt.ref(low), " is the lowest since ",
                                               fmt.ref(since, "date"), ".")))
    event = gains_since_event(fs)
    if event is not None:
        out.append(Highlight(2.5, Paragraph.of(
            "At ", fmt.ref(fs.get("price.last_usd")), " Bitcoin has given back all its gains since the ",
            Ref(text=f"{event['title']} ({fmt.long_date(event['date'])}, close {fmt.usd(event['close'])})",
                finding=fs.get("price.below_event")), ".")))
    dd = fs.get("price.drawdown_from_ath_pct")
    if dd is not None and dd.value is not None:
        out.append(Highlight(abs(dd.value) / 20, Paragraph.of(
            "The drawdown from the all-time high is ", fmt.ref(dd, "pct"), ".")))
    return out
