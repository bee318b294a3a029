"""The brief's title and headline sentence, from price findings."""

from __future__ import annotations

from btcstress.brief import fmt
from btcstress.brief.model import Paragraph, Ref
from btcstress.findings import FindingSet

# Events worth naming as "gains since X": turning points of policy and supply, not price peaks.
GAINS_SINCE = ("politics", "halving", "etf")


def title(fs: FindingSet) -> str:
    return f"Bitcoin market stress brief — as of {fs.as_of:%Y-%m-%d %H:%M} UTC"


def gains_since_event(fs: FindingSet) -> dict | None:
    """The oldest policy/supply event whose close the price is back below (from price.below_event)."""
    f = fs.get("price.below_event")
    if f is None or not f.value:
        return None
    named = [e for e in f.detail.get("events", []) if e["category"] in GAINS_SINCE]
    return named[-1] if named else None


def headline(fs: FindingSet) -> Paragraph:
    change, close = fs.get("price.change_1d_pct"), fs.get("price.close_usd")
    if change is None or change.value is None or close is None or close.value is None:
        last = fs.get("price.last_usd")
        return Paragraph.of("Bitcoin at ", fmt.ref(last), ": no complete trading day is available to compare.")
    verb = "falls" if change.value < 0 else "rises"
    # The size of the move is printed unsigned after the verb; it is still the finding's value.
    parts: list = [f"Bitcoin {verb} ", Ref(text=fmt.pct(abs(change.value), digits=1), finding=change),
                   " to ", fmt.ref(close, "usd"), f" on {fmt.long_date(change.detail.get('date'))}"]
    event, below = gains_since_event(fs), fs.get("price.below_event")
    if event is not None:
        parts += [", erasing its gains since the ", Ref(text=event["title"], finding=below)]
    return Paragraph(parts=parts)
