"""The bars price findings read: suspect values (the quality table, docs/DATA.md "Data quality")
handled once here, so every price finding sees the same cleaned bars and says what it used."""

from __future__ import annotations

import ibis
import pandas as pd

from btcstress.metrics.context import Context


def raw_bars(ctx: Context, venue: str, symbol: str, interval: str) -> ibis.Table:
    c = ctx.table("candles")
    return c.filter((c.venue == venue) & (c.symbol == symbol) & (c.interval == interval))


def bars(ctx: Context, venue: str, symbol: str, interval: str) -> ibis.Table:
    """The bars known by T, with suspect values (quality flags known by T) handled: a flagged high
    or low is replaced by the day's Binance hourly envelope where all 24 bars exist, else set null
    (nothing clean to say); a flagged close is kept (no second close to prefer) and marked. Columns
    q_high / q_low / q_close say what was flagged, q_rules the rules, q_fallback what replaced it.
    One expression per market and computation (the price and scenario areas read it ~9 times)."""
    return ctx.reuse(("price_bars.bars", venue, symbol, interval), lambda: _bars(ctx, venue, symbol, interval))


def _bars(ctx: Context, venue: str, symbol: str, interval: str) -> ibis.Table:
    b = raw_bars(ctx, venue, symbol, interval)
    q = ctx.table("quality")
    q = q.filter(q.series == f"candles:{venue}/{symbol}/{interval}")
    flags = q.group_by(q.ts).aggregate(
        q_high=(q.field == "high").any(), q_low=(q.field == "low").any(), q_close=(q.field == "close").any(),
        q_rules=q.rule.collect(distinct=True))
    h = hourly_envelope(ctx) if interval == "1d" else None
    j = b.left_join(flags, b.open_time == flags.ts)
    if h is not None:
        j = j.left_join(h, j.open_time == h.day)
    hh = j.h_high if h is not None else ibis.null("float64")
    hl = j.h_low if h is not None else ibis.null("float64")
    qh, ql, qc = j.q_high.fill_null(False), j.q_low.fill_null(False), j.q_close.fill_null(False)
    out = j.mutate(high=ibis.ifelse(qh, hh, j.high), low=ibis.ifelse(ql, hl, j.low), q_high=qh, q_low=ql,
                   q_close=qc, q_fallback=ibis.ifelse((qh & hh.notnull()) | (ql & hl.notnull()),
                                                      "Binance hourly bars of the day", ibis.null("string")))
    return out.select(*b.columns, "q_high", "q_low", "q_close", "q_rules", "q_fallback")


def hourly_envelope(ctx: Context) -> ibis.Table:
    """Per UTC day with all 24 Binance hourly bars on a venue: the highest high and lowest low."""
    c = ctx.table("candles")
    c = c.filter((c.interval == "1h") & c.venue.isin(["binance", "binance-usdm"]))
    per = c.group_by(c.venue, day=c.open_time.truncate("D")).aggregate(hi=c.high.max(), lo=c.low.min(), n=c.count())
    per = per.filter(per.n == 24)
    return per.group_by("day").aggregate(h_high=per.hi.max(), h_low=per.lo.min())


def suspect_note(row) -> str | None:
    """What a finding computed from this bar must say about its suspect values (None if clean)."""
    fields = [f for f in ("high", "low", "close") if bool(row.get(f"q_{f}", False))]
    if not fields:
        return None
    rules = ", ".join(sorted(row.get("q_rules") or []))
    fb = row.get("q_fallback")
    fb = fb if isinstance(fb, str) and fb else None  # a missing fallback comes back as None or NaN
    what = ", ".join(fields)
    if fb:
        return f"suspect {what} on {pd.Timestamp(row['open_time']).date()} (quality rules: {rules}); {fb} used instead"
    return (f"suspect {what} on {pd.Timestamp(row['open_time']).date()} (quality rules: {rules}; "
            f"`btcstress quality`); no clean source for that day")


def marked(common: dict, suspect: str | None) -> dict:
    """Finding arguments with a suspect value's note (and detail['suspect'], which keeps the finding
    out of headlines, highlights and 'Why it fell')."""
    if not suspect:
        return common
    return {**common, "note": suspect, "detail": {**common.get("detail", {}), "suspect": suspect}}
