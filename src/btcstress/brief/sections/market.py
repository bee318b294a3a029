"""The market section: total crypto value wiped or added, BTC dominance, sentiment."""

from __future__ import annotations

import datetime as dt

from btcstress.brief import Highlight, charts, fmt
from btcstress.brief.model import Chart, Paragraph, Ref, Section
from btcstress.findings import FindingSet
from btcstress.metrics.stats import past


def _when(fng, fs: FindingSet) -> str:
    """The reading's day when it is not the latest there could be (a day's index is out at its 00:00 UTC,
    so by as-of the latest is as-of's day or the day before): a gap in the series says so."""
    day = dt.date.fromisoformat(fng.detail["date"]) if fng.detail.get("date") else None
    as_of = fs.as_of if isinstance(fs.as_of, dt.datetime) else None
    if day is None or as_of is None or day >= (as_of - dt.timedelta(days=1)).date():
        return ""
    return f" on {fmt.long_date(day)}, the latest reading"


def _known(f) -> bool:
    return f is not None and f.value is not None


def _dated(f, total, fs: FindingSet) -> str:
    """' on D' for a value older than the brief's day and from another day than the total's (whose date is said)."""
    old = fmt.older_day(f, fs.as_of)
    return f" on {old}" if old and (total is None or fmt.data_day(f) != fmt.data_day(total)) else ""


def build(fs: FindingSet) -> Section | None:
    g = fs.get
    total, change = g("market.total_cap_usd"), g("market.total_cap_change_usd")
    dom, fng, btc = g("market.btc_dominance_pct"), g("market.fear_greed"), g("market.btc_cap_usd")
    p: list = []
    if total is not None and total.value is not None:
        p += ["The crypto market as a whole was worth ", fmt.ref(total, "usd_short"),
              f" at the close of {fmt.long_date(total.detail['date'])}"]
        if change is not None and change.value is not None:
            p += [", ", fmt.ref(change, "usd_short", signed=True), " on the day"]
            z = (change.unusual or {}).get("zscore")
            if z is not None:
                p.append(f" ({fmt.sigma(z)} against {past(change.unusual)}'s daily changes)")
        p.append(". ")
    else:
        p += ["Total crypto market value: ", fmt.ref(total), ". "]
    if _known(total) and _known(btc) and fmt.data_day(btc) != fmt.data_day(total):
        # Bitcoin's own value is from another day than the total's (its source ends earlier): no share of it.
        old = fmt.older_day(btc, fs.as_of)
        p += ["Bitcoin's dominance was ", fmt.ref(dom, "pct"), _dated(dom, total, fs), "; its own market value was ",
              fmt.ref(btc, "usd_short"), f" on {old}, the latest day of its data." if old else "."]
    else:
        p += ["Bitcoin accounted for ", fmt.ref(btc, "usd_short"), " of it, a dominance of ", fmt.ref(dom, "pct"), "."]
    if fng is not None and fng.value is not None:
        p += [" The Fear & Greed index read ", fmt.ref(fng), f" ({fng.detail.get('label', '')})", _when(fng, fs), "."]
    else:
        p += [" Fear & Greed index: ", fmt.ref(fng), "."]
    chart = []
    s = fs.series.get("market.total_cap_180d")
    if s is not None:
        chart.append(Chart(id="market_total", title=s.title, sources=s.sources, height=220,
                           figure={"data": [charts.line(s, fill="tozeroy")],
                                   "layout": charts.layout(yaxis_title="USD", height=220)}))
    return Section(id="market", title="Market", paragraphs=[Paragraph(parts=p)], charts=chart)


def highlights(fs: FindingSet) -> list[Highlight]:
    out = []
    change = fs.get("market.total_cap_change_usd")
    if change is not None and change.value is not None and change.unusual and change.unusual.get("zscore") is not None:
        z = change.unusual["zscore"]
        verb = "wiped off" if change.value < 0 else "added to"
        out.append(Highlight(abs(z), Paragraph.of(
            Ref(text=fmt.usd_short(abs(change.value)), finding=change), f" was {verb} the total crypto market on "
            f"{fmt.long_date(change.detail['date'])}, a {fmt.sigma(z)} day against {past(change.unusual)}'s daily changes.")))
    fng = fs.get("market.fear_greed")
    if fng is not None and fng.value is not None and (fng.value <= 20 or fng.value >= 80):
        out.append(Highlight(abs(fng.value - 50) / 25, Paragraph.of(
            "Sentiment: the Fear & Greed index is at ", fmt.ref(fng), f" ({fng.detail.get('label', '')}) on a "
            "0-100 scale.")))
    return out
