"""What the core of the claim checker needs from the areas: their claim rules, the tolerances, and
the small wording helpers the rules share with the core.

An area's claim rules live next to its metrics (`metrics/<area>_claims.py`, named by the area's
`claim_rules` in btcstress/areas) as `RULES = [ClaimRule(...), ...]`. A rule says, for some of the
area's finding ids, what the core cannot know: other names a claim may use for the id, whether a USD
figure is a price per BTC (the tighter tolerance), which other findings answer the same question
(offered when the claim matches one of them), which figure of a running day stands in for the daily
one, and, as functions of the judge (`claims.judge.Judge`), a verdict of its own for a claim the
plain comparison cannot judge (`scope`, `verdict`) and extra reasons after the comparison (`reasons`).
"""

from __future__ import annotations

import datetime as dt
import functools
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from btcstress.details import Dated
from btcstress.findings import Finding

if TYPE_CHECKING:
    from btcstress.claims.judge import Judge, Verdict


@dataclass(frozen=True)
class ClaimRule:
    """How claims about some findings of an area are read, beyond the core's pick-compare-word.

    ids: the finding ids it applies to; `"miners.*"` applies to every id under a prefix.
    aliases: claim finding ids that are read as `ids[0]` (vocabulary that is not an id verbatim);
        `alias_note` says how, in the reason.
    per_btc: a USD figure that is a price per BTC: compared within 2%, not the 10% of USD totals.
    alternatives: other findings answering the same question over another window, source or
        definition; their values are offered (and matched) when the claim does not hold.
    intraday: while the claim's day is still running, this finding (the figure so far that day, if its
        bar falls in the day) stands in for the daily one.
    scope(judge, candidates) -> Verdict | None: judges a claim before a finding is picked (a claim
        about a wider subject than the data covers); None lets the core go on.
    verdict(judge, finding) -> Verdict | None: judges a claim whose value the numeric comparison
        cannot (a list of events); None lets the core go on.
    reasons(judge, finding, holds) -> list[str]: what the reason adds after the comparison (vintages,
        definitions, sensitivity), in order, before the core's price-dependence note.
    """

    ids: tuple[str, ...]
    aliases: tuple[str, ...] = ()
    alias_note: str = ""
    per_btc: bool = False
    alternatives: tuple[str, ...] = ()
    intraday: str | None = None
    scope: Callable[[Judge, list[Finding]], Verdict | None] | None = None
    verdict: Callable[[Judge, Finding], Verdict | None] | None = None
    reasons: Callable[[Judge, Finding, bool], list[str]] | None = None

    def applies(self, finding_id: str) -> bool:
        return any(finding_id == i or (i.endswith(".*") and finding_id.startswith(i[:-1])) for i in self.ids)


def _all_rules() -> tuple[ClaimRule, ...]:
    from btcstress import areas
    return _rules_of(areas.all())


@functools.cache
def _rules_of(loaded: tuple) -> tuple[ClaimRule, ...]:
    """The rules of the loaded areas, in registry order (cached per registry state: a registered
    area's rules count at once)."""
    out: list[ClaimRule] = []
    for a in loaded:
        mod = a.claim_rules_module()
        if mod is not None:
            out += [r for r in mod.RULES if isinstance(r, ClaimRule)]
    return tuple(out)


def rules_for(finding_id: str) -> list[ClaimRule]:
    """Every rule that applies to `finding_id`, in registry order."""
    return [r for r in _all_rules() if r.applies(finding_id)]


def resolve(claim_id: str) -> tuple[str, str]:
    """(the finding id a claim's finding_id names, the note saying how it was read or "")."""
    for r in _all_rules():
        if claim_id in r.aliases:
            return r.ids[0], r.alias_note
    return claim_id, ""


def alternatives(finding_id: str) -> tuple[str, ...]:
    return tuple(a for r in rules_for(finding_id) for a in r.alternatives)


def intraday(finding_id: str) -> str | None:
    return next((r.intraday for r in rules_for(finding_id) if r.intraday), None)


# -- tolerances for `approx` (documented in docs/METRICS.md#claims) ---------------------------------

# USD figures that are a price per BTC (a rule's per_btc): 2% (relative). Other USD figures: 10%.
TOLERANCE = {
    "price": ("rel", 0.02, "2% of the computed price"),
    "USD": ("rel", 0.10, "10% of the computed USD total"),
    "pct": ("abs", 2.0, "2 percentage points"),
    "BTC": ("rel", 0.01, "1% of the computed BTC amount"),
    "other": ("rel", 0.02, "2% of the computed value"),
}


def tolerance_for(finding_id: str, unit: str) -> tuple[str, float, str]:
    if unit == "USD":
        return TOLERANCE["price" if any(r.per_btc for r in rules_for(finding_id)) else "USD"]
    return TOLERANCE.get(unit, TOLERANCE["other"])


def holds(comparator: str, claimed: float, got: float, finding_id: str, unit: str, raw: Any,
          tight: bool = False) -> tuple[bool, str]:
    """(whether `got` bears out the claim `comparator claimed`, the tolerance in words). `tight`:
    matching a sum of published parts, where only rounding (0.1%) is allowed."""
    kind, tol, text = tolerance_for(finding_id, unit)
    if comparator == "gt":
        return got > claimed, text
    if comparator == "lt":
        return got < claimed, text
    if comparator == "eq":
        decimals = _decimals(raw)
        return abs(got - claimed) <= 0.5 * 10 ** -decimals, f"equal at the claim's precision ({decimals} decimals)"
    if tight:
        return abs(got - claimed) <= 0.001 * abs(got), text
    limit = tol if kind == "abs" else tol * abs(got)
    return abs(got - claimed) <= limit + 1e-9 * max(1.0, abs(got)), text


def _decimals(raw: Any) -> int:
    s = str(raw)
    return len(s.split(".", 1)[1].rstrip("0")) if "." in s else 0


# -- wording shared by the core and the rules -------------------------------------------------------

def finding_day(f: Finding) -> dt.date | None:
    """The day a daily finding is about: its detail's date (or day), else the day its window names."""
    d = Dated.of(f)
    for v in (d.date, d.day):
        if isinstance(v, str) and re.fullmatch(r"\d{4}-\d{2}-\d{2}", v):
            return dt.date.fromisoformat(v)
    m = re.search(r"(\d{4}-\d{2}-\d{2})$", f.window or "")
    return dt.date.fromisoformat(m[1]) if m else None


def source_name(f: Finding) -> str:
    """The price market(s) a finding used, from its candles sources' notes."""
    notes = list(dict.fromkeys(s.note for s in f.sources if s.note and s.table == "candles" and "closes" not in s.note))
    if notes:
        return " + ".join(notes)
    return f.params.get("market") or (f.sources[0].origin if f.sources else "no source")


def fmt_value(v: Any, unit: str) -> str:
    from btcstress.brief import fmt
    if v is None:
        return "not available"
    if unit == "USD":
        return fmt.usd(float(v)) if abs(float(v)) < 1e8 else fmt.usd_short(float(v))
    if unit == "pct":
        return fmt.pct(float(v), digits=2)
    if unit == "BTC":
        return f"{float(v):,.0f} BTC"
    return fmt.text(v, unit)


def hm(t: dt.datetime) -> str:
    t = t.astimezone(dt.timezone.utc)
    if t.microsecond == 999999:
        return f"{t:%Y-%m-%d} 24:00Z (end of day)"
    return f"{t:%Y-%m-%d %H:%M}Z"
