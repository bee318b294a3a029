"""The leverage section: liquidations of the last complete day (BTC, ETH, BTC+ETH), open interest,
funding and leverage, figures others reported (cited, beside and never mixed with ours), a 90-day chart
of long/short liquidation bars with the open-interest line, and the coverage caveats in small print.
Words and formatting only: every number is a finding."""

from __future__ import annotations

from btcstress.brief import Highlight, charts, fmt
from btcstress.brief.model import Chart, Paragraph, Section, TableBlock
from btcstress.findings import Finding, FindingSet
from btcstress.metrics.stats import past
from btcstress.metrics.leverage import cited, pick

SUBJECTS = ("BTC", "ETH", "BTC+ETH")
LONG_COLOR, SHORT_COLOR, OI_COLOR = charts.ACCENT, charts.BLUE, charts.INK


def build(fs: FindingSet) -> Section | None:
    total = pick(fs, "liquidations.total_usd", "BTC+ETH")
    oi = pick(fs, "derivatives.open_interest_usd", "BTC")
    if (total is None or total.value is None) and (oi is None or oi.value is None):
        return None
    section = Section(id="leverage", title="Leverage and liquidations")
    if total is not None and total.value is not None:
        section.paragraphs.append(_liquidations_sentence(fs, total))
    if oi is not None and oi.value is not None:
        section.paragraphs.append(_derivatives_sentence(fs, oi))
    events = _events_sentence(fs)
    if events is not None:
        section.paragraphs.append(events)
    others = _cited_sentence(fs)
    if others is not None:
        section.paragraphs.append(others)
    section.tables.append(_table(fs))
    chart = _chart(fs)
    if chart is not None:
        section.charts.append(chart)
    section.notes.extend(_notes(fs))
    return section


def highlights(fs: FindingSet) -> list[Highlight]:
    total = pick(fs, "liquidations.total_usd", "BTC+ETH")
    if total is None or total.value is None or not total.unusual or total.unusual.get("zscore") is None:
        return []
    z = total.unusual["zscore"]
    return [Highlight(abs(z), Paragraph.of(
        fmt.ref(total, "usd"), " of leveraged BTC and ETH positions were liquidated on "
        f"{fmt.long_date(total.detail.get('date'))}, ", fmt.ref(pick(fs, "liquidations.long_share_pct", "BTC+ETH")),
        f" of it longs ({fmt.sigma(z)} against {past(total.unusual)}'s daily totals; CryptoQuant)."))]


def _liquidations_sentence(fs: FindingSet, total: Finding) -> Paragraph:
    day = fmt.long_date(total.detail.get("date"))
    parts: list = [f"On {day}, ", fmt.ref(total, "usd"), " of leveraged BTC and ETH positions were liquidated "
                   "across the exchanges CryptoQuant covers, ", fmt.ref(pick(fs, "liquidations.long_share_pct", "BTC+ETH")),
                   " of it from longs (BTC ", fmt.ref(pick(fs, "liquidations.total_usd", "BTC"), "usd"), ", ETH ",
                   fmt.ref(pick(fs, "liquidations.total_usd", "ETH"), "usd"), ")"]
    z = pick(fs, "liquidations.zscore_1y", "BTC+ETH")
    if z is not None and z.value is not None:
        side = "above" if z.value >= 0 else "below"
        parts += ["; the day's total has a one-year z-score of ", fmt.ref(z, digits=1), f" ({side} its mean)"]
    parts.append(".")
    return Paragraph(parts=parts)


def _derivatives_sentence(fs: FindingSet, oi: Finding) -> Paragraph:
    parts: list = ["BTC futures open interest was ", fmt.ref(oi, "usd"), f" on {fmt.long_date(oi.detail.get('date'))}"]
    one = pick(fs, "derivatives.open_interest_change_pct", "BTC", "1d")
    seven = pick(fs, "derivatives.open_interest_change_pct", "BTC", "7d")
    changes = [(f, label) for f, label in ((one, "on the day"), (seven, "over seven days")) if f is not None and f.value is not None]
    if changes:
        parts.append(" (")
        for i, (f, label) in enumerate(changes):
            parts += ([", "] if i else []) + [fmt.ref(f, signed=True), f" {label}"]
        parts.append(")")
    funding = pick(fs, "derivatives.funding_rate_pct", "BTC")
    if funding is not None and funding.value is not None:
        parts += ["; funding averaged ", fmt.ref(funding, digits=4, signed=True), " per funding interval"]
    lev = pick(fs, "derivatives.leverage_ratio", "BTC")
    if lev is not None and lev.value is not None:
        parts += [" and the estimated leverage ratio (open interest / exchange reserves) was ", fmt.ref(lev, digits=3)]
    parts.append(".")
    return Paragraph(parts=parts)


def _events_sentence(fs: FindingSet) -> Paragraph | None:
    largest = pick(fs, "liquidations.largest_usd", "BTC+ETH", "24h")
    if largest is None or largest.value is None:
        return None
    d = largest.detail
    count = pick(fs, "liquidations.count", "BTC+ETH", "24h")
    return Paragraph.of("In the last 24 hours of recorded exchange feeds, the largest single BTC or ETH liquidation "
                        "was ", fmt.ref(largest, "usd"), f", a {d.get('side')} position on {d.get('venue')} "
                        f"{d.get('symbol')} at {d.get('time')}, among ", fmt.ref(count), " recorded events.")


def _cited_sentence(fs: FindingSet) -> Paragraph | None:
    others = cited(fs, "liquidations.") + cited(fs, "derivatives.")
    if not others:
        return None
    parts: list = ["Reported elsewhere (cited, not computed here; their coverage differs): "]
    for i, f in enumerate(others):
        what = f.id.split(".", 1)[1].replace("_usd", "").replace("_", " ")
        parts += (["; "] if i else []) + [f"{f.detail.get('source')}: {what} ({f.subject}, {f.window or 'window not given'}) ",
                                          fmt.ref(f)]
    parts.append(".")
    return Paragraph(parts=parts)


def _table(fs: FindingSet) -> TableBlock:
    rows = []
    for s in SUBJECTS:
        rows.append([s] + [fmt.ref(pick(fs, i, s), style) for i, style in (
            ("liquidations.long_usd", "usd"), ("liquidations.short_usd", "usd"), ("liquidations.total_usd", "usd"),
            ("liquidations.long_share_pct", "pct"), ("liquidations.zscore_1y", "auto"))])
    total = pick(fs, "liquidations.total_usd", "BTC+ETH")
    day = total.window.split(":", 1)[1] if total is not None and ":" in total.window else ""
    return TableBlock(caption=f"Liquidations on {day} (CryptoQuant, all exchanges)",
                      columns=["", "longs", "shorts", "total", "long share", "z (1y)"], rows=rows,
                      align=["l", "r", "r", "r", "r", "r"])


def _chart(fs: FindingSet) -> Chart | None:
    bars = fs.series.get("leverage.liquidations_daily")
    oi = fs.series.get("leverage.open_interest_daily")
    if bars is None:
        return None
    data = [{"type": "bar", "x": bars.x, "y": bars.extra["long_usd"], "name": "longs liquidated",
             "marker": {"color": LONG_COLOR}},
            {"type": "bar", "x": bars.x, "y": bars.extra["short_usd"], "name": "shorts liquidated",
             "marker": {"color": SHORT_COLOR}}]
    layout = charts.layout(yaxis_title="liquidated (USD)", height=270, barmode="stack", showlegend=True,
                           margin={"l": 56, "r": 64, "t": 12, "b": 36})
    sources = list(bars.sources)
    if oi is not None:
        data.append({"type": "scatter", "mode": "lines", "x": oi.x, "y": oi.y, "name": "BTC open interest",
                     "yaxis": "y2", "line": {"color": OI_COLOR, "width": 1.6}})
        layout["yaxis2"] = {"title": {"text": "open interest (USD)"}, "overlaying": "y", "side": "right",
                            "exponentformat": "B", "tickprefix": "$", "tickmode": "auto", "nticks": 5, "showgrid": False,
                            "tickfont": {"color": charts.MUTED}}
        sources += oi.sources
    return Chart(id="leverage-liquidations", title=f"{bars.extra.get('subject', '')} liquidations per day, longs and "
                 "shorts, with BTC open interest", figure={"data": data, "layout": layout},
                 height=270, caption=f"Last {len(bars.x)} days to {bars.x[-1] if bars.x else ''}. CryptoQuant, all exchanges; "
                         "BTC and ETH only.", sources=sources)


def _notes(fs: FindingSet) -> list[Paragraph]:
    notes = [Paragraph.of("Daily liquidations are CryptoQuant's (all exchanges, all symbols) and cover BTC and ETH "
                          "only: aggregator totals over all coins (such as CoinGlass's) are larger and are not "
                          "comparable. The funding rate is in percent per funding interval.")]
    largest = pick(fs, "liquidations.largest_usd", "BTC+ETH", "24h")
    if largest is not None and largest.value is None:
        notes.append(Paragraph.of("No exchange liquidation events were recorded for this period, so the largest "
                                  "single liquidation is not available from our data."))
    elif largest is not None:
        venue_notes = sorted({s.note for s in largest.sources if s.note})
        notes.append(Paragraph.of("Event-level figures cover only the feeds recorded, while recording: "
                                  + "; ".join(venue_notes) + "."))
    return notes
