"""The brief's ETF section: the latest day's net flow (and whether it was preliminary), the outflow
streak, the week so far, flows by fund, cumulative flows and AUM, and the holders' cost basis.

Words and formatting only: every number is a finding (or a field of a finding's detail, printed as
the finding published it).
"""

from __future__ import annotations

from btcstress.brief import Highlight, charts, fmt
from btcstress.brief.model import Chart, Fragment, Paragraph, Ref, Section, TableBlock
from btcstress.details import EtfDay, EtfSpan, Priced
from btcstress.findings import FindingSet
from btcstress.metrics.stats import past

ORDINALS = {1: "first", 2: "second", 3: "third", 4: "fourth", 5: "fifth", 6: "sixth", 7: "seventh", 8: "eighth",
            9: "ninth", 10: "tenth"}
NUMBERS = fmt.NUMBERS


def _ordinal(n: int) -> str:
    return ORDINALS.get(n, f"{n}th")


def _hhmm(iso: str | None) -> str:
    return f"{iso[:10]} {iso[11:16]} UTC" if iso else "an unknown time"


def build(fs: FindingSet) -> Section | None:
    net = fs.get("etf.net_flow_usd")
    if net is None:
        return None
    section = Section(id="etf", title="Spot bitcoin ETF flows")
    if net.value is None:
        section.paragraphs.append(Paragraph.of(f"US spot bitcoin ETF flows: {net.note}."))
        return section
    d = EtfDay.of(net)
    section.paragraphs.append(_the_day(fs, net, d))
    section.notes += _other_vintages(net, d)
    p2 = _since_launch(fs)
    if p2:
        section.paragraphs.append(Paragraph(parts=p2))
    table = _by_fund(fs, d)
    if table is not None:
        section.tables.append(table)
    section.charts += _charts(fs)
    section.notes.append(Paragraph.of(
        "Flows are Farside's daily table (US$ millions, stored in USD); each fund's flow counts from its usual "
        "publication time the next day (IBIT 18:00 UTC, the others 08:00 UTC; docs/DATA.md) unless a version's "
        "publication time was recorded. A day with a fund not yet reported is preliminary and says which fund "
        "is missing. AUM is Artemis' (a day's row from 18:00 UTC the next day). The cost basis is modelled: see "
        "docs/METRICS.md."))
    return section


def _the_day(fs: FindingSet, net, d: EtfDay) -> Paragraph:
    """The day's net flow (final or preliminary), the outflow streak, the week to date."""
    days = fs.get("etf.outflow_streak_days")
    streak_usd = fs.get("etf.outflow_streak_usd")
    parts: list[Fragment] = ["US spot bitcoin ETFs: net flow of ", fmt.ref(net, "usd_short", signed=True),
                             " on ", fmt.long_date(d.date)]
    parts.append(f" (preliminary: {', '.join(d.missing_funds)} not yet reported)" if d.preliminary else " (final)")
    if days is not None and days.value and days.value >= 2:
        parts += [", the ", Ref(text=_ordinal(days.value), finding=days), " straight day of outflows, ",
                  fmt.ref(streak_usd, "usd_short", signed=True), " in ",
                  Ref(text=NUMBERS.get(days.value, str(days.value)), finding=days), " days"]
    parts.append(".")
    wtd = fs.get("etf.week_to_date_usd")
    if wtd is not None and wtd.value is not None:
        parts += [" Week to date (", fmt.long_date(EtfSpan.of(wtd).from_), " to ", fmt.long_date(EtfSpan.of(wtd).to),
                  "): ", fmt.ref(wtd, "usd_short", signed=True), "."]
    return Paragraph(parts=parts)


def _other_vintages(net, d: EtfDay) -> list[Paragraph]:
    """Other versions of the same day known by T: why a quoted number may differ from ours."""
    out = []
    for v in (v for v in d.vintages if v.vintage != d.vintage):
        state = f"before {', '.join(v.missing_funds)} reported" if v.preliminary else "with every fund reported"
        out.append(Paragraph.of(
            f"Another version of the {fmt.long_date(d.date)} table, published {_hhmm(v.vintage)} {state}, showed ",
            Ref(text=fmt.usd_short(v.net_flow_usd, signed=True), finding=net),
            f"; this brief uses the version published {_hhmm(d.vintage)}."))
    return out


def _since_launch(fs: FindingSet) -> list[Fragment]:
    """Cumulative flows, AUM, the holders' cost basis and P&L."""
    cum, aum = fs.get("etf.cumulative_usd"), fs.get("etf.aum_usd")
    basis, pnl = fs.get("etf.holders_cost_basis_usd"), fs.get("etf.holders_pnl_pct")
    p2: list[Fragment] = []
    if cum is not None and cum.value is not None:
        p2 += ["Net flows since launch on ", fmt.long_date(cum.detail["from"]), ": ",
               fmt.ref(cum, "usd_short", signed=True), "."]
    if aum is not None and aum.value is not None:
        p2 += [" Assets under management: ", fmt.ref(aum, "usd_short"), " on ", fmt.long_date(aum.detail["date"]), "."]
    if basis is not None and basis.value is not None:
        p2 += [" The flow-weighted average price paid by net inflows is about ", fmt.ref(basis, "USD")]
        if pnl is not None and pnl.value is not None:
            at = "at the hypothetical price of " if pnl.hypothetical else "at the current price of "
            p2 += ["; ", at, Ref(text=fmt.usd(Priced.of(pnl).price_usd), finding=pnl), " the average ETF holder is ",
                   fmt.ref(pnl, "pct", signed=True), " on that basis"]
        p2.append(".")
    return p2


def _by_fund(fs: FindingSet, d: EtfDay) -> TableBlock | None:
    """Each fund's flow that day; funds with no creations or redemptions are named in the caption."""
    funds = [f for f in fs.all("etf.flow_usd")]
    if not funds:
        return None
    funds.sort(key=lambda f: (f.value is None, f.value if f.value is not None else 0))
    moved = [f for f in funds if f.value != 0]
    still = [f.subject for f in funds if f.value == 0]
    caption = f"Net flow by fund on {fmt.long_date(d.date)}"
    if still:
        caption += f"; no flow at {', '.join(still)}"
    return TableBlock(
        caption=caption, columns=["Fund", "Issuer", "Net flow"], align=["l", "l", "r"],
        rows=[[f.subject, f.detail.get("issuer") or "", fmt.ref(f, "usd_short", signed=True)
               if f.value is not None else "not yet reported"] for f in moved])


def _charts(fs: FindingSet) -> list[Chart]:
    out = []
    by_fund = fs.series.get("etf.daily_flows_by_fund")
    if by_fund is not None:
        traces = [{"type": "bar", "name": fund, "x": by_fund.x, "y": ys,
                   "marker": {"color": charts.PALETTE[i % len(charts.PALETTE)]}}
                  for i, (fund, ys) in enumerate(by_fund.extra.get("funds", {}).items())]
        traces.append({"type": "scatter", "mode": "markers", "name": "Net, all funds", "x": by_fund.x, "y": by_fund.y,
                       "marker": {"color": charts.INK, "symbol": "line-ew-open", "size": 14, "line": {"width": 2}}})
        out.append(Chart(
            id="etf_flows_by_fund", title=by_fund.title, sources=by_fund.sources,
            caption="Daily net creations minus redemptions, stacked by fund (USD); the dash is the day's net. "
                    "Each day is read from its latest version published by the as-of instant.",
            figure={"data": traces, "layout": charts.layout(yaxis_title="USD", barmode="relative", showlegend=False)}))
    cumulative = fs.series.get("etf.cumulative_flows")
    if cumulative is not None:
        out.append(Chart(
            id="etf_cumulative", title=cumulative.title, sources=cumulative.sources, height=240,
            caption="Running sum of daily net flows since the first trading day, 2024-01-11 (USD).",
            figure={"data": [charts.line(cumulative, name="Cumulative net flows", fill="tozeroy")],
                    "layout": charts.layout(yaxis_title="USD", height=240)}))
    return out


def highlights(fs: FindingSet) -> list[Highlight]:
    """The day's ETF flow when it is unusual for the past year, with the streak when there is one."""
    net = fs.get("etf.net_flow_usd")
    if net is None or net.value is None or not net.unusual or net.unusual.get("zscore") is None:
        return []
    z = net.unusual["zscore"]
    d = EtfDay.of(net)
    parts: list[Fragment] = ["Spot bitcoin ETFs: ", fmt.ref(net, "usd_short", signed=True), " on ",
                             fmt.long_date(d.date)]
    parts.append(f" (preliminary, {', '.join(d.missing_funds)} not yet reported)" if d.preliminary else "")
    days, streak = fs.get("etf.outflow_streak_days"), fs.get("etf.outflow_streak_usd")
    if days is not None and days.value and days.value >= 2:
        parts += [", the ", Ref(text=_ordinal(days.value), finding=days), " straight day of outflows, ",
                  fmt.ref(streak, "usd_short", signed=True), " in ", Ref(text=NUMBERS.get(days.value, str(days.value)),
                                                                        finding=days), " days"]
    parts.append(f" ({fmt.sigma(z)} against {past(net.unusual)}'s daily flows).")
    # A streak adds weight: three outflow days in a row is news even when each day is only -1.3σ.
    score = abs(z) + (0.5 * (days.value - 1) if days is not None and days.value and net.value < 0 else 0)
    return [Highlight(score, Paragraph(parts=parts))]
