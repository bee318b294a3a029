"""The scenario section: a price ladder (shocks from the current price) with the long liquidations
on the way down, where the liquidation cascade could take the price, the share of hashrate under water
and the companies under water. Words and formatting only: every number is in the scenario.ladder
finding (computed by metrics/scenario.py when the findings are computed)."""

from __future__ import annotations

from btcstress.brief import fmt
from btcstress.brief.model import Paragraph, Ref, Section, TableBlock
from btcstress.findings import Finding, FindingSet


def build(fs: FindingSet) -> Section | None:
    f = fs.get("scenario.ladder")
    if f is None or f.value is None or not f.value:
        return None
    rows = f.value
    section = Section(id="scenario", title="What if it falls further")
    section.paragraphs.append(_lead(f, rows))
    section.tables.append(_table(f, rows))
    section.notes.append(Paragraph.of(
        "Hypothetical, modelled figures. Long liquidations spread the BTC open interest (CryptoQuant, all exchanges) "
        "over a seeded simulation of positions opened in the past month's bars, with a leverage mix scaled by the "
        "estimated leverage ratio and the share of open interest at risk fitted to past crash days; the model's "
        "error against realized crash-day liquidations is stated in docs/METRICS.md (Scenario: backtest). "
        "The cascade assumes every liquidated long is market-sold into a market whose depth is derived from the "
        "square-root impact law on recent volume and volatility. Hashrate under water uses the miners model's "
        "cost curve (all-in cost, and cash cost, at the base power price). Treasuries under water counts "
        "only companies whose average cost is published."))
    if f.note:
        section.notes.append(Paragraph.of(f"Not available in part: {f.note}."))
    return section


def _r(f: Finding, value, style: str, **kw) -> str | Ref:
    if value is None:
        return fmt.NA
    return Ref(text=fmt.text(value, style, **kw), finding=f)


def _lead(f: Finding, rows: list[dict]) -> Paragraph:
    current = f.detail.get("current_usd")
    parts: list = ["From ", _r(f, current, "USD"), " (the last price), the ladder below asks what a further fall "
                   "would do."]
    worst = rows[-1]
    if worst.get("liquidations_usd") is not None:
        parts += [f" At {worst['shock_pct']:+.0f}% (", _r(f, worst["price_usd"], "USD"), "), the model puts long "
                  "liquidations on the way down at ", _r(f, worst["liquidations_usd"], "usd_short"),
                  "; sold into the market, they could carry the price on to ", _r(f, worst["cascade_price_usd"], "USD"),
                  " (a further ", _r(f, worst["cascade_extra_move_pct"], "pct"), ")."]
    if worst.get("hashrate_underwater_pct") is not None:
        parts += [" ", _r(f, worst["hashrate_underwater_pct"], "pct", digits=0), " of the hashrate would be mining "
                  "below its all-in cost, ", _r(f, worst["hashrate_underwater_cash_pct"], "pct", digits=0),
                  " below its cash cost (electricity and other operating costs)."]
    names = worst.get("treasuries_underwater_names")
    if names:
        parts += [f" {', '.join(names)} would be under water, with an unrealized P&L of ",
                  _r(f, worst["treasury_pnl_usd"], "usd_short", signed=True), "."]
    if worst.get("etf_holders_pnl_pct") is not None:
        parts += [" US spot ETF holders, on their flow-weighted cost, would be ",
                  _r(f, worst["etf_holders_pnl_pct"], "pct", signed=True), " in aggregate."]
    return Paragraph(parts=parts)


def _table(f: Finding, rows: list[dict]) -> TableBlock:
    out = []
    for r in rows:
        names = r.get("treasuries_underwater_names")
        under = (_r(f, f"{r['treasuries_underwater']} ({', '.join(names)}, "
                        f"{fmt.text(r['treasury_pnl_usd'], 'usd_short', signed=True)})" if names
                 else str(r["treasuries_underwater"]), "")
                 if r.get("treasuries_underwater") is not None else fmt.NA)
        out.append([f"{r['shock_pct']:+.0f}%", _r(f, r["price_usd"], "USD"),
                    _r(f, r.get("liquidations_usd"), "usd_short"),
                    _r(f, r.get("cascade_price_usd"), "USD"),
                    _r(f, r.get("cascade_extra_move_pct"), "pct"),
                    _r(f, r.get("hashrate_underwater_pct"), "pct", digits=0),
                    _r(f, r.get("hashrate_underwater_cash_pct"), "pct", digits=0),
                    under,
                    _r(f, r.get("etf_holders_pnl_pct"), "pct", signed=True)])
    return TableBlock(caption="Price ladder from the last price (hypothetical, modelled)",
                      columns=["Shock", "Price", "Long liquidations", "Cascade price", "Cascade move",
                               "Hashrate under water (all-in)", "(cash cost)", "Treasuries under water",
                               "ETF holders P&L"],
                      rows=out, align=["r", "r", "r", "r", "r", "r", "r", "l", "r"])
