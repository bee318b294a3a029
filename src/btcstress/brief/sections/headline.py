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
    """The event whose gains the price has erased (see the module docstring), from price.below_event:
    only an event whose close the price broke below decisively and recently (the finding's
    `decisive_break`: a close above it on most of the days before, crossed within the last month)."""
    f = fs.get("price.below_event")
    if f is None or not f.value:
        return None
    events = [e for e in f.detail.get("events", []) if e.get("decisive_break")]
    for category in GAINS_SINCE:
        named = [e for e in events if e.get("category") == category]
        if named:
            return named[-1]  # the list is most recent first: the oldest comes last
    return None


# A close-to-close move smaller than this (percent) is not the day's story (brief/lint.py checks it).
QUIET_MOVE_PCT = 1.0


def headline(fs: FindingSet) -> Paragraph:
    change, close = fs.get("price.change_1d_pct"), fs.get("price.close_usd")
    if change is None or change.value is None or close is None or close.value is None:
        last = fs.get("price.last_usd")
        return Paragraph.of("Bitcoin at ", fmt.ref(last), ": no complete trading day is available to compare.")
    stale = _intraday_instead(fs, change)
    if stale is not None:
        return stale
    day = _day(change.detail.get("date"))
    if close.detail.get("suspect"):  # the close itself flagged: no number from it in the headline
        return Paragraph.of(f"Bitcoin's close on {day} is not stated here: the quality checks flagged it "
                            "(see the price notes and `btcstress quality`)")
    if change.detail.get("suspect"):  # a flagged close: the move is not the headline (docs/DATA.md)
        return Paragraph.of(f"Bitcoin closes {day} at ", fmt.ref(close, "usd"),
                            "; the day's move is not stated: a close the quality checks flagged (see the price notes)")
    if abs(change.value) < QUIET_MOVE_PCT:
        return Paragraph.of("A quiet day: Bitcoin little changed at ", fmt.ref(close, "usd"), f" on {day}")
    verb = "falls" if change.value < 0 else "rises"
    # The size of the move is printed unsigned after the verb; it is still the finding's value.
    parts: list = [f"Bitcoin {verb} ", Ref(text=fmt.pct(abs(change.value), digits=0), finding=change),
                   " to ", fmt.ref(close, "usd"), f" on {day}"]
    event, below = gains_since_event(fs), fs.get("price.below_event")
    if event is not None and change.value < 0:
        parts += [", erasing its gains since the ", Ref(text=event["title"], finding=below)]
    return Paragraph(parts=parts)


def _intraday_instead(fs: FindingSet, change) -> Paragraph | None:
    """When the daily closes end before the day the brief describes (a composite that stopped while hourly
    bars go on), the latest intraday price and its 24-hour move are the headline, and the daily closes'
    last day is said: a close weeks old is not the day's story. None when the daily close is current or no
    fresh intraday price exists."""
    ended = fmt.older_day(change, fs.as_of)
    last, move = fs.get("price.last_usd"), fs.get("price.change_24h_pct")
    if not ended or last is None or last.value is None or move is None or move.value is None \
            or move.window.startswith("1d:") or fmt.older_day(last, fs.as_of):
        return None
    at = last.detail.get("bar_close") or ""
    when = f" at {at[11:16]} UTC on {_day(at)}" if at else ""
    tail = f" (the daily closes end on {ended})"
    if abs(move.value) < QUIET_MOVE_PCT:
        return Paragraph.of("A quiet day: Bitcoin little changed at ", fmt.ref(last, "usd"), when, ", ",
                            fmt.ref(move, "pct", signed=True), " over 24 hours", tail)
    verb = "falls" if move.value < 0 else "rises"
    return Paragraph.of(f"Bitcoin {verb} ", Ref(text=fmt.pct(abs(move.value), digits=0), finding=move),
                        " over 24 hours to ", fmt.ref(last, "usd"), when, tail)


def _day(v) -> str:
    """'February 5' (the year is in the masthead)."""
    text = fmt.long_date(v)
    return text.rsplit(",", 1)[0] if "," in text else text
