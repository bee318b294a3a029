"""The brief's title and headline sentence, from price findings.

"Erasing its gains since X" names one event from `price.below_event` (the named events whose day's
close is above the current price). Which one: the event that marks the start of the current demand
regime, because that is what readers mean by "the gains since": politics and ETF milestones first
(the 2024 US election, the spot ETF launch), a halving only when none of those applies, and within a
category the OLDEST event the price is back below (the most gains erased). Price peaks and crashes
are never used: being below a peak's close is not "erasing gains since" it. The rule is a choice of
words over the finding; it does not compute anything.
"""

from __future__ import annotations

from btcstress.brief import fmt
from btcstress.brief.model import Paragraph, Ref
from btcstress.findings import FindingSet

# In order of preference: demand regimes (policy, ETF access) before supply (halvings).
GAINS_SINCE = ("politics", "etf", "halving")


def title(fs: FindingSet) -> str:
    return f"Bitcoin market stress brief — as of {fs.as_of:%Y-%m-%d %H:%M} UTC"


def gains_since_event(fs: FindingSet) -> dict | None:
    """The event whose gains the price has erased (see the module docstring), from price.below_event."""
    f = fs.get("price.below_event")
    if f is None or not f.value:
        return None
    events = f.detail.get("events", [])
    for category in GAINS_SINCE:
        named = [e for e in events if e.get("category") == category]
        if named:
            return named[-1]  # the list is most recent first: the oldest comes last
    return None


def headline(fs: FindingSet) -> Paragraph:
    change, close = fs.get("price.change_1d_pct"), fs.get("price.close_usd")
    if change is None or change.value is None or close is None or close.value is None:
        last = fs.get("price.last_usd")
        return Paragraph.of("Bitcoin at ", fmt.ref(last), ": no complete trading day is available to compare.")
    verb = "falls" if change.value < 0 else "rises" if change.value > 0 else "is unchanged"
    # The size of the move is printed unsigned after the verb; it is still the finding's value.
    parts: list = [f"Bitcoin {verb} ", Ref(text=fmt.pct(abs(change.value), digits=0), finding=change),
                   " to ", fmt.ref(close, "usd"), f" on {_day(change.detail.get('date'))}"]
    event, below = gains_since_event(fs), fs.get("price.below_event")
    if event is not None and change.value < 0:
        parts += [", erasing its gains since the ", Ref(text=event["title"], finding=below)]
    elif event is not None:
        parts += [", still below the close of the ", Ref(text=event["title"], finding=below)]
    return Paragraph(parts=parts)


def _day(v) -> str:
    """'February 5' (the year is in the masthead)."""
    text = fmt.long_date(v)
    return text.rsplit(",", 1)[0] if "," in text else text
