"""The price section: where Bitcoin trades, how far it fell, and against what history."""

from __future__ import annotations

from btcstress.brief import Highlight, charts, fmt
from btcstress.brief.model import Chart, Paragraph, Ref, Section
from btcstress.brief.sections.headline import gains_since_event
from btcstress.findings import Finding, FindingSet
from btcstress.metrics.stats import past
from btcstress.schema import last_published_day

# "The lowest since D" is said only when D is at least this far back (brief/lint.py checks it).
MIN_LOWEST_SINCE_DAYS = 30


def since_is_news(fs: FindingSet, since: Finding) -> bool:
    """"The lowest (or highest) since D" is news: D at least MIN_LOWEST_SINCE_DAYS before the day the brief
    describes (the linter's day: measured from the as-of's own date instead, a 29-day span passed here
    and failed the lint at every 00:00-07:00 instant and every day instant)."""
    import datetime as dt
    day = last_published_day(fs.as_of)
    return (day - dt.date.fromisoformat(str(since.value)[:10])).days >= MIN_LOWEST_SINCE_DAYS


def lowest_since(fs: FindingSet) -> Finding | None:
    """price.lowest_since_date when it is news (`since_is_news`)."""
    since = fs.get("price.lowest_since_date")
    return since if since is not None and since.value is not None and since_is_news(fs, since) else None


def _intraday(f: Finding | None) -> bool:
    """Whether a trailing-24h price finding comes from bars finer than a day."""
    return f is not None and not f.window.startswith("1d:")


def plural(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def _hhmm(iso: str | None) -> str:
    """'08:00 UTC on February 6' from '2026-02-06T08:00Z'."""
    if not iso:
        return "an unknown time"
    return f"{iso[11:16]} UTC on {fmt.long_date(iso[:10]).rsplit(',', 1)[0]}"


def build(fs: FindingSet) -> Section:
    g = fs.get
    last, low, change24, drop = g("price.last_usd"), g("price.low_24h_usd"), g("price.change_24h_pct"), g("price.max_drop_24h_pct")
    paras = []
    if last is not None and last.value is not None:
        p = ["Bitcoin traded at ", fmt.ref(last), f" at {_hhmm(last.detail.get('bar_close'))} "
             f"({last.detail.get('market', '')}), ", fmt.ref(change24, "pct", signed=True), " over 24 hours"]
        if low is not None and low.value is not None:
            if _intraday(low):
                p += [". It touched ", fmt.ref(low), f" in the hour from {_hhmm(low.detail.get('bar_open'))}"]
            else:  # daily bars: no hour to name
                p += [". Its low that day was ", fmt.ref(low)]
            since = lowest_since(fs)
            if since is not None:
                p += [", the lowest since ", fmt.ref(since, "date")]
        if drop is not None and drop.value is not None and drop.detail.get("from_high") is not None \
                and drop.value <= -0.05:
            p += ["; from the 24-hour high of ", Ref(text=fmt.usd(drop.detail["from_high"]), finding=drop),
                  " that is a fall of ", Ref(text=fmt.pct(abs(drop.value)), finding=drop)]
        p.append(".")
        paras.append(Paragraph(parts=p))
    else:
        why = (last.note or "").removeprefix("not available: ") if last else "no price finding"
        paras.append(Paragraph.of("The latest price is ", fmt.ref(last), f" ({why or 'no reason given'})."))
    close, chg = g("price.close_usd"), g("price.change_1d_pct")
    if close is not None and close.value is not None:
        p = [f"On {fmt.long_date(close.detail['date'])} it closed at ", fmt.ref(close), ", ",
             fmt.ref(chg, "pct", signed=True), " on the day"]
        if chg is not None and chg.unusual and chg.unusual.get("zscore") is not None:
            p += [f": a {fmt.sigma(chg.unusual['zscore'])} move against {past(chg.unusual)}, "
                  f"{_ordinal_pct(chg.unusual['percentile'])}"]
        ath, dd = g("price.ath_usd"), g("price.drawdown_from_ath_pct")
        if ath is not None and ath.value is not None:
            p += [". That leaves it ", fmt.ref(dd, "pct"), " below its all-time high of ", fmt.ref(ath),
                  f" ({fmt.long_date(ath.detail['date'])})"]
        p.append(".")
        paras.append(Paragraph(parts=p))
    below = g("price.below_event")
    if below is not None and below.value:
        events = below.detail["events"]
        event = gains_since_event(fs)
        p = ["The price is back below the close of ", Ref(text=plural(len(events), "named event"), finding=below)]
        if event is not None and event.get("decisive_break"):
            p += ["; the earliest policy or supply milestone among them is the ",
                  Ref(text=f"{event['title']} ({fmt.long_date(event['date'])}, close {fmt.usd(event['close'])})",
                      finding=below), ": every gain since then is gone"]
        p.append(".")
        paras.append(Paragraph(parts=p))
    return Section(id="price", title="Price", paragraphs=paras, charts=_charts(fs))


def _ordinal_pct(p: float) -> str:
    """'in the lowest 0.8% of all days since 2009' — at the ends 'the lowest of any day since 2009'."""
    if p < 50:
        return f"in the lowest {p:.1f}% of all days since 2009" if round(p, 1) > 0 else "the lowest of any day since 2009"
    return (f"in the highest {100 - p:.1f}% of all days since 2009" if round(100 - p, 1) > 0
            else "the highest of any day since 2009")


def _charts(fs: FindingSet) -> list[Chart]:
    out = []
    daily = fs.series.get("price.daily_180d")
    if daily is not None:
        fig = {"data": [charts.candles(daily)],
               "layout": charts.layout(yaxis_title="USD", height=280,
                                       xaxis={"rangeslider": {"visible": False}, "gridcolor": charts.GRID,
                                              "tickfont": {"color": charts.MUTED}})}
        event = gains_since_event(fs)
        shapes, notes = [], []
        if event is not None:
            s, a = charts.hline(event["close"], f"{event['title']}: {fmt.usd(event['close'])}")
            shapes.append(s), notes.append(a)
        fig["layout"]["shapes"], fig["layout"]["annotations"] = shapes, notes
        out.append(Chart(id="price_daily", title=daily.title, figure=fig, sources=daily.sources, height=280,
                         caption="Daily bars (UTC days)."))
    hourly = fs.series.get("price.hourly_48h")
    if hourly is not None:
        m = hourly.extra["low_marker"]
        fig = {"data": [charts.line(hourly, name="close"),
                        charts.line(hourly, name="low", y=hourly.extra["low"], color=charts.MUTED, width=1, dash="dot"),
                        charts.marker(m["x"], m["y"], f"low {fmt.usd(m['y'])}")],
               "layout": charts.layout(yaxis_title="USD", height=280)}
        out.append(Chart(id="price_hourly", title=hourly.title, figure=fig, sources=hourly.sources, height=280,
                         caption="Hourly closes (solid) and lows (dotted); the 24-hour low is marked."))
    return out


def highlights(fs: FindingSet) -> list[Highlight]:
    """The day's move, ranked by its z-score against the past year, with the low it reached."""
    chg = fs.get("price.change_1d_pct")
    if chg is None or chg.value is None or not chg.unusual or chg.unusual.get("zscore") is None \
            or chg.detail.get("suspect"):
        return []
    z, pctl = chg.unusual["zscore"], chg.unusual.get("percentile")
    if round(abs(chg.value), 1) == 0:  # "rose 0.0%" says nothing: the day was flat, and that is what it says
        p = ["Bitcoin closed flat on ", f"{fmt.long_date(chg.detail['date'])} (",
             Ref(text=fmt.pct(chg.value, digits=2, signed=True) if round(abs(chg.value), 2) else "0.00%", finding=chg),
             f"), a {fmt.sigma(z)} day against {past(chg.unusual)}"]
    else:
        p = [f"Bitcoin {'fell' if chg.value < 0 else 'rose'} ", Ref(text=fmt.pct(abs(chg.value)), finding=chg),
             f" on {fmt.long_date(chg.detail['date'])}, a {fmt.sigma(z)} day against {past(chg.unusual)}"]
    if pctl is not None:
        p.append(f" and {_ordinal_pct(pctl)}")
    since, low = lowest_since(fs), fs.get("price.low_24h_usd")
    if since is not None and low is not None and low.value is not None and not low.detail.get("suspect"):
        p += ["; it then touched ", fmt.ref(low), ", the lowest since ", fmt.ref(since, "date")]
    p.append(".")
    return [Highlight(abs(z), Paragraph(parts=p))]
