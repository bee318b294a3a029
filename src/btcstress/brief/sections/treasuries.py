"""The treasuries section: what the companies that hold bitcoin paid for it, what it is worth now
(or at the user's price), and how the market values them (mNAV). Words and formatting only: every
number is a finding."""

from __future__ import annotations

from btcstress.brief import Highlight, charts, fmt
from btcstress.brief.model import Chart, Paragraph, Ref, Section, TableBlock
from btcstress.findings import Finding, FindingSet
from btcstress.metrics.stats import past

LEAD = "Strategy"
TOTAL = "entities with known cost"


def build(fs: FindingSet) -> Section | None:
    holdings = [f for f in fs.all("treasury.holdings_btc") if f.value is not None]
    if not holdings:
        return None
    paras = [p for p in (_lead(fs), _totals(fs)) if p is not None]
    table = _table(fs, holdings)
    notes = [Paragraph.of(
        "Holdings and cost come from each company's latest report published by the as-of instant: an SEC "
        "8-K counts from the end of its filing day (UTC). Where no cost basis is published, holdings come "
        "from the Artemis daily series and cost-based columns stay empty: cost is never estimated. mNAV is "
        "Artemis' fully diluted enterprise value over the value of the BTC held, cited as published.")]
    return Section(id="treasuries", title="Corporate treasuries", paragraphs=paras, tables=[table],
                   charts=_charts(fs), notes=notes)


def _price_phrase(f: Finding) -> list:
    price = f.detail.get("price_usd")
    if price is None:
        return []
    if f.hypothetical:
        return [" at a hypothetical ", Ref(text=fmt.usd(price), finding=f), " per BTC"]
    return [" at ", Ref(text=fmt.usd(price), finding=f)]


def _lead(fs: FindingSet) -> Paragraph | None:
    g = lambda i: fs.get(i, LEAD)  # noqa: E731
    h, avg, cost = g("treasury.holdings_btc"), g("treasury.avg_cost_usd"), g("treasury.cost_usd")
    if h is None or h.value is None:
        return None
    parts: list = [f"{LEAD} holds ", fmt.ref(h)]
    if h.detail.get("filing_date"):
        parts += [f" (SEC 8-K filed {fmt.long_date(h.detail['filing_date'])}, as of "
                  f"{fmt.long_date(h.detail['as_of'])})"]
    if avg is not None and avg.value is not None:
        parts += [", bought for ", fmt.ref(cost, "usd_short"), " at an average of ", fmt.ref(avg), " per BTC"]
    parts.append(".")
    value, pnl, pct = g("treasury.value_usd"), g("treasury.unrealized_pnl_usd"), g("treasury.unrealized_pnl_pct")
    if value is not None and value.value is not None:
        parts += [" Valued", *_price_phrase(value), " it is worth ", fmt.ref(value, "usd_short")]
        if pnl is not None and pnl.value is not None:
            word = "an unrealized loss" if pnl.value < 0 else "an unrealized gain"
            # The word carries the sign: the amounts are printed unsigned after it.
            parts += [f": {word} of ", Ref(text=fmt.usd_short(abs(pnl.value)), finding=pnl), " (",
                      Ref(text=fmt.pct(abs(pct.value)) if pct is not None and pct.value is not None else fmt.NA,
                          finding=pct) if pct is not None and pct.value is not None else fmt.NA, " of cost)"]
        parts.append(".")
    be = g("treasury.breakeven_price_usd")
    if be is not None and be.value is not None:
        parts += [" It breaks even at ", fmt.ref(be), "."]
    mnav = g("treasury.mnav")
    if mnav is not None and mnav.value is not None:
        parts += [" The market values the company at ", fmt.ref(mnav, digits=2),
                  f" times its bitcoin (fully diluted EV/NAV, {fmt.long_date(mnav.detail.get('date'))})"]
        if mnav.unusual and mnav.unusual.get("percentile") is not None:
            parts += [f", {_rank(mnav.unusual['percentile'])} of {past(mnav.unusual)}"]
        parts.append(".")
    return Paragraph(parts=parts)


def _totals(fs: FindingSet) -> Paragraph | None:
    total, pnl = fs.get("treasury.total_holdings_btc", TOTAL), fs.get("treasury.total_unrealized_pnl_usd", TOTAL)
    if total is None or total.value is None:
        return None
    names = ", ".join(e["entity"] for e in total.detail.get("entities", []))
    parts: list = ["Across the companies whose cost basis is known (", Ref(text=names, finding=total), "): ",
                   fmt.ref(total)]
    if pnl is not None and pnl.value is not None:
        parts += [", an unrealized P&L of ", fmt.ref(pnl, "usd_short", signed=True), *_price_phrase(pnl)]
    parts.append(".")
    others = total.detail.get("entities_without_cost") or []
    if others:
        parts += [f" {len(others)} other {'company holds' if len(others) == 1 else 'companies hold'} ",
                  Ref(text=fmt.text(total.detail["btc_without_cost"], "BTC"), finding=total),
                  " with no published cost basis."]
    return Paragraph(parts=parts)


def _table(fs: FindingSet, holdings: list[Finding]) -> TableBlock:
    rows = []
    for h in holdings:
        e = h.subject
        g = lambda i: fs.get(i, e)  # noqa: E731
        basis = {"filing": "8-K", "daily": "Artemis (no cost)", "snapshot": "DefiLlama"}.get(h.detail.get("basis"), "")
        rows.append([e, fmt.ref(h), f"{h.detail.get('as_of', '')} {basis}".strip(), fmt.ref(g("treasury.avg_cost_usd")),
                     fmt.ref(g("treasury.value_usd"), "usd_short"),
                     fmt.ref(g("treasury.unrealized_pnl_usd"), "usd_short", signed=True),
                     fmt.ref(g("treasury.unrealized_pnl_pct"), "pct", signed=True),
                     fmt.ref(g("treasury.mnav"), digits=2)])
    hyp = any(f.hypothetical for f in fs.all("treasury.value_usd"))
    caption = ("Bitcoin treasury companies" + (" — value and P&L at the hypothetical price" if hyp else "")
               + "; n/a: not available (no published cost basis, or no mNAV published)")
    return TableBlock(caption=caption,
                      columns=["Company", "BTC held", "As of / source", "Average cost", "Value", "Unrealized P&L",
                               "P&L %", "mNAV"],
                      rows=rows, align=["l", "r", "l", "r", "r", "r", "r", "r"])


def _charts(fs: FindingSet) -> list[Chart]:
    s = fs.series.get("treasury.strategy_avg_cost_vs_price")
    if s is None:
        return []
    cost = charts.line(s, name=f"{s.extra.get('entity', LEAD)} average cost", color=charts.ACCENT, width=2)
    cost["line"]["shape"] = "hv"
    figure = {
        "data": [charts.line(s, name=s.extra.get("price_label", "BTC daily close (USD)"), color=charts.BLUE,
                             width=1.2, y=s.extra["price_close_usd"]), cost],
        "layout": charts.layout(yaxis_title="USD per BTC", height=320, showlegend=True),
    }
    return [Chart(id="treasuries_strategy_cost", title=s.title, figure=figure, sources=s.sources, height=320,
                  caption="The average cost steps on the day each report was published; before the first "
                          "8-K in the data (April 2022) it is not available.")]


def highlights(fs: FindingSet) -> list[Highlight]:
    """Strategy's unrealized loss (ranked by how unusual its P&L % is against its past year) and an
    extreme mNAV (lowest or highest 5% of its past year)."""
    out = []
    pnl, pct, h = (fs.get(i, LEAD) for i in ("treasury.unrealized_pnl_usd", "treasury.unrealized_pnl_pct",
                                             "treasury.holdings_btc"))
    if pnl is not None and pnl.value is not None and pnl.value < 0 and pct is not None:
        z = (pct.unusual or {}).get("zscore")
        parts: list = [f"{LEAD} is sitting on an unrealized loss of ", Ref(text=fmt.usd_short(abs(pnl.value)), finding=pnl),
                       " (", Ref(text=fmt.pct(abs(pct.value)), finding=pct), ") on its ", fmt.ref(h), *_price_phrase(pnl)]
        if z is not None:
            pctl = pct.unusual["percentile"]
            base = past(pct.unusual)
            if round(pctl, 1) == 0:
                parts.append(f", deeper than on any day of {base} ({fmt.sigma(z)})")
            elif pctl < 50:
                parts.append(f", deeper than on all but {pctl:.1f}% of days in {base} ({fmt.sigma(z)})")
            else:
                parts.append(f" ({fmt.sigma(z)} against {base})")
        out.append(Highlight(abs(z) if z is not None else 1.0, Paragraph(parts=parts + ["."])))
    mnav = fs.get("treasury.mnav", LEAD)
    if mnav is not None and mnav.value is not None and mnav.unusual and mnav.unusual.get("zscore") is not None:
        pctl = mnav.unusual["percentile"]
        if pctl <= 5 or pctl >= 95:
            out.append(Highlight(abs(mnav.unusual["zscore"]), Paragraph.of(
                f"The market values {LEAD} at ", fmt.ref(mnav, digits=2),
                f" times its bitcoin (fully diluted EV/NAV) on {fmt.long_date(mnav.detail.get('date'))}, "
                f"{_rank(pctl)} of {past(mnav.unusual)}.")))
    return out


def _rank(pctl: float) -> str:
    """'in the lowest 3%' / 'in the highest 4%', never '0%': at the ends 'the lowest' / 'the highest'."""
    if pctl < 50:
        return f"in the lowest {pctl:.0f}%" if round(pctl) > 0 else "the lowest"
    return f"in the highest {100 - pctl:.0f}%" if round(100 - pctl) > 0 else "the highest"
