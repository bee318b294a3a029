"""The price area's claim rules (see btcstress/claims/rules.py): which price figures are a price per
BTC, other windows of the same move, the figure so far of a running day, the named events a price is
below, and the market a price was read from."""

from __future__ import annotations

from btcstress.claims.rules import ClaimRule, fmt_value, source_name
from btcstress.details import EventsBelow, Priced


def _events(j, f):
    """`price.below_event`: is the claimed event among those whose close is above the price."""
    if j.id != "price.below_event":
        return None
    d = EventsBelow.of(f)
    events = {e.id: e for e in d.events}
    want = str(j.c.value).strip()
    where = f"price {fmt_value(d.price, 'USD')} ({source_name(f)})" if d.price is not None else "the price"
    if want in events:
        e = events[want]
        return j.verdict("supported", f, computed=want, reason=(
            f"{where} is below the close of {e.title} ({e.date}: {fmt_value(e.close, 'USD')})"))
    return j.verdict("contradicted" if d.events_with_a_close else "unverifiable", f, computed=sorted(events), reason=(
        f"{want!r} is not among the events whose close is above {where}: "
        f"{', '.join(events) or 'none'} (events table: src/btcstress/data/events.csv)"))


def _source(j, f, ok):
    """A price figure says which market it was read from, when nothing else is said about it."""
    priced = Priced.of(f)
    said = f.kind == "modelled" or (priced.price_from and priced.price_usd is not None)
    return [f"source: {source_name(f)}"] if f.id == j.id and not said else []


RULES = [
    ClaimRule(ids=("price.below_event",), aliases=("price.below_event_close",),
              alias_note="is the event among those whose close is above the price", verdict=_events),
    ClaimRule(ids=("price.last_usd", "price.low_24h_usd", "price.high_24h_usd", "price.close_usd", "price.low_usd",
                   "price.high_usd", "price.ath_usd"), per_btc=True),
    ClaimRule(ids=("price.change_24h_pct",), alternatives=("price.change_1d_pct", "price.max_drop_24h_pct")),
    ClaimRule(ids=("price.low_usd",), alternatives=("price.low_24h_usd",), intraday="price.low_24h_usd"),
    ClaimRule(ids=("price.high_usd",), alternatives=("price.high_24h_usd",), intraday="price.high_24h_usd"),
    ClaimRule(ids=("price.low_24h_usd",), alternatives=("price.low_usd",)),
    ClaimRule(ids=("price.last_usd",), alternatives=("price.close_usd",)),
    ClaimRule(ids=("price.close_usd",), alternatives=("price.last_usd",)),
    ClaimRule(ids=("price.*",), reasons=_source),
]
