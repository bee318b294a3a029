"""The brief linter: a brief that says a false, empty or garbled thing fails, with the rule and where.

Each rule is a function over the built brief (its text fragments and the findings they point at) and
returns failures. `lint(brief)` runs them all; `btcstress lint-brief --date D` prints them; the sweep
(scripts/sweep_briefs.py) runs them on every day. The rules are the defect classes of issue 16; the
brief's own wording (brief/sections/) is written so that none of them fires, and the linter is the
independent check that it does not.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Callable, Iterator

from btcstress.brief import fmt
from btcstress.brief.model import Brief, Paragraph, Ref
from btcstress.details import Event, EventsBelow
from btcstress.findings import Finding
from btcstress.schema import last_published_day

# A move smaller than this (percent, close to close) is not a headline by itself.
QUIET_MOVE_PCT = 1.0
# "The lowest since D" is news only when D is at least this many days before the day described.
MIN_LOWEST_SINCE_DAYS = 30
# Data older than this (days before the as-of day) must carry its date in the sentence.
STALE_DAYS = 2
# A full year of observations for a statistic that says "the past year" (trading-day series: 252).
YEAR_N = {"trading": 245, "daily": 355}


@dataclass(frozen=True)
class Failure:
    rule: str
    where: str
    text: str
    reason: str

    def __str__(self) -> str:
        return f"[{self.rule}] {self.where}: {self.reason} — “{self.text[:160]}”"


@dataclass
class Block:
    where: str
    text: str
    refs: list[Ref]
    starts: list[int]  # where each ref's text begins in `text` (a number can occur twice: "-$1.34B", "$1.34B")


def blocks(brief: Brief) -> Iterator[Block]:
    """Every piece of text a reader sees, with the findings its numbers point at."""
    def of(where: str, p: Paragraph) -> Block:
        refs, starts, at = [], [], 0
        for x in p.parts:
            if isinstance(x, Ref):
                refs.append(x)
                starts.append(at)
            at += len(x.text if isinstance(x, Ref) else x)
        return Block(where, "".join(x.text if isinstance(x, Ref) else x for x in p.parts), refs, starts)

    yield of("headline", brief.headline)
    for i, h in enumerate(brief.highlights):
        yield of(f"highlight {i + 1}", h)
    for s in brief.sections:
        for i, p in enumerate(s.paragraphs):
            yield of(f"{s.id} ¶{i + 1}", p)
        for i, p in enumerate(s.notes):
            yield of(f"{s.id} note {i + 1}", p)
        for t in s.tables:
            for r, row in enumerate(t.rows):
                yield of(f"{s.id} table '{t.caption}' row {r + 1}", Paragraph(parts=list(row)))


def day_of(brief: Brief) -> dt.date:
    """The day a brief describes: the last UTC day whose daily rows are published at its as-of instant
    (day D from D+1 07:00, schema.day_published): a value from that day is as fresh as data can be.
    (It was the as-of's own date before the 07:00 rule, which made every CryptoQuant value look two
    days old between 00:00 and 07:00: the sweep's hourly instants found it.)"""
    return last_published_day(brief.as_of)


def _dates_in(text: str) -> list[dt.date]:
    out = []
    for m in re.finditer(r"(January|February|March|April|May|June|July|August|September|October|November|"
                         r"December) (\d{1,2}), (\d{4})", text):
        out.append(dt.datetime.strptime(" ".join(m.groups()), "%B %d %Y").date())
    return out


# -- rules ---------------------------------------------------------------------------------------

def trivial_headline(brief: Brief) -> list[Failure]:
    """The headline states a move too small to be the day's story."""
    b = next(blocks(brief))
    out = []
    for r in b.refs:
        if r.finding.id == "price.change_1d_pct" and r.finding.value is not None \
                and abs(r.finding.value) < QUIET_MOVE_PCT:
            out.append(Failure("trivial_headline", b.where, b.text,
                               f"a {r.finding.value:+.2f}% move is not a headline (< {QUIET_MOVE_PCT}%)"))
    return out


EMPTY = [(re.compile(r"\b(falls?|fell|rises?|rose|drops?|dropped|gains?|gained) [+-]?0(\.0+)?%"), "a move of 0%"),
         (re.compile(r"\b(lowest|highest) 0\.0%|\b(top|bottom) 0\.0%|all but 0\.0%"), "a 0.0% percentile"),
         (re.compile(r"\b(top|bottom|lowest|highest) 100(\.0)?%"), "a 100% percentile"),
         (re.compile(r"\b(top|bottom|lowest|highest) 0%|all but 0%"), "a 0% percentile"),
         (re.compile(r"\bsince (yesterday|today)\b"), "'since yesterday' is not news"),
         (re.compile(r"(?<![\d.,])1 (named events|other companies|days|companies|funds|events|entities)\b"),
          "singular count with a plural noun"),
         (re.compile(r"\b(fell|falls|fall of|loss of|decline of|drop of|outflows? of|down) -"), "a double negative"),
         (re.compile(r"\b(rose|rises|gain of|inflows? of|up) -"), "a rise stated with a minus sign"),
         (re.compile(r"\b(fell|falls|fall of|loss of|drop of) \+"), "a fall stated with a plus sign"),
         (re.compile(r"\bnot available\b[^.]*\bnot available\b"), "'not available' twice in one sentence"),
         (re.compile(r"[+-]0\.0σ"), "a signed zero z-score")]


def garbled(brief: Brief) -> list[Failure]:
    """Empty or garbled phrases: 0% moves, 0.0% percentiles, '1 named events', double negatives."""
    out = []
    for b in blocks(brief):
        for rx, why in EMPTY:
            if rx.search(b.text):
                out.append(Failure("garbled", b.where, b.text, why))
    return out


def lowest_since_span(brief: Brief) -> list[Failure]:
    """'The lowest since D' with D too recent to be news."""
    out = []
    day = day_of(brief)
    for b in blocks(brief):
        for m in re.finditer(r"(lowest|highest) since ([A-Z][a-z]+ \d{1,2}, \d{4})", b.text):
            since = _dates_in(m.group(2))[0]
            if (day - since).days < MIN_LOWEST_SINCE_DAYS:
                out.append(Failure("lowest_since_span", b.where, b.text,
                                   f"'{m.group(0)}' is only {(day - since).days} days before {day}"))
    return out


def _events_named(b: Block) -> list[tuple[Ref, Event]]:
    out = []
    for r in b.refs:
        if r.finding.id == "price.below_event":
            for e in EventsBelow.of(r.finding).events:
                if e.title in r.text:
                    out.append((r, e))
    return out


def self_referencing_event(brief: Brief) -> list[Failure]:
    """The price is said to be below the close of an event that is the day being described (or later)."""
    out = []
    day = day_of(brief)
    for b in blocks(brief):
        for r in b.refs:
            if r.finding.id != "price.below_event":
                continue
            for e in EventsBelow.of(r.finding).events:
                if dt.date.fromisoformat(e.date) >= day:  # day_of is the day described (not as-of's date)
                    out.append(Failure("self_referencing_event", b.where, b.text,
                                       f"event {e.id} ({e.date}) is the day described, not a reference point"))
    return out


def gains_since(brief: Brief) -> list[Failure]:
    """'Erasing its gains since X' / 'every gain since then is gone' needs a decisive, recent break."""
    out = []
    for b in blocks(brief):
        if not re.search(r"erasing (its|the) gains since|every gain since then is gone|wiping out .* gains", b.text):
            continue
        named = _events_named(b)
        if not named:
            out.append(Failure("gains_since", b.where, b.text, "no event finding behind the claim"))
        for _, e in named:
            if not e.decisive_break:
                out.append(Failure("gains_since", b.where, b.text,
                                   f"no decisive recent break below {e.id}'s close "
                                   f"(break {e.broke_below}, above before: {e.share_above_before})"))
    return out


def intraday_claim(brief: Brief) -> list[Failure]:
    """'In the hour from …' (or any hourly claim) printed from daily bars."""
    out = []
    for b in blocks(brief):
        if not re.search(r"in the hour from|hourly", b.text):
            continue
        for r in b.refs:
            market = str(r.finding.detail.get("market", "") or r.finding.params.get("market", ""))
            if r.finding.id.startswith("price.") and r.finding.window.startswith("1d:") or "1d bars" in market:
                out.append(Failure("intraday_claim", b.where, b.text,
                                   f"{r.finding.id} comes from daily bars ({market or r.finding.window})"))
                break
    return out


SIGNED = [(re.compile(r"market-wide selling", re.I), "selling", -1), (re.compile(r"market-wide buying", re.I), "buying", 1),
          (re.compile(r"\boutflows?\b", re.I), "outflow", -1), (re.compile(r"was wiped off"), "wiped off", -1),
          (re.compile(r"was added to"), "added", 1)]
SIGNED_IDS = {"market.total_cap_change_usd", "etf.net_flow_usd", "etf.outflow_streak_usd"}


def sign_consistent(brief: Brief) -> list[Failure]:
    """A label whose direction contradicts the sign of the number it labels."""
    out = []
    for b in blocks(brief):
        for rx, word, sign in SIGNED:
            for m in rx.finditer(b.text):
                # the number this label governs: the first signed finding after the label, within the clause
                clause = b.text[m.start():].split(";")[0].split(". ")[0]
                for r in b.refs:
                    if r.finding.id in SIGNED_IDS and r.text in clause and r.finding.value:
                        if (r.finding.value > 0) != (sign > 0):
                            out.append(Failure("sign_label", b.where, b.text,
                                               f"'{word}' labels {r.finding.id} = {r.text}"))
                        break
    return out


def _n(f: Finding) -> tuple[int | None, int]:
    u = f.unusual or {}
    n = u.get("n", u.get("days"))
    per_year = YEAR_N["trading"] if u.get("calendar") == "trading" else YEAR_N["daily"]
    return (int(n) if n is not None else None), per_year


def statistic_base(brief: Brief) -> list[Failure]:
    """A statistic that names a window ('the past year') its base does not cover, or has no base."""
    out = []
    for b in blocks(brief):
        if "σ" not in b.text and "percentile" not in b.text and "past year" not in b.text:
            continue
        for r in b.refs:
            if not r.finding.unusual:
                continue
            n, year = _n(r.finding)
            if n is None:
                out.append(Failure("statistic_base", b.where, b.text, f"{r.finding.id}: statistic without its base (n)"))
            elif "past year" in b.text and n < year and f"{n}" not in b.text:
                out.append(Failure("statistic_base", b.where, b.text,
                                   f"{r.finding.id}: 'past year' from {n} observations"))
    return out


def normal_range(brief: Brief) -> list[Failure]:
    """An extreme percentile (<= 5 or >= 95) listed as 'within the normal range'."""
    out = []
    for b in blocks(brief):
        i = b.text.find("Within their normal range")
        if i < 0:
            continue
        for r, start in zip(b.refs, b.starts):  # by position: the same number may also stand earlier
            p = (r.finding.unusual or {}).get("percentile")
            if start >= i and p is not None and (p <= 5 or p >= 95):
                out.append(Failure("normal_range", b.where, b.text,
                                   f"{r.finding.id} at percentile {p} called normal"))
    return out


def contradiction(brief: Brief) -> list[Failure]:
    """A force called 'not available' in 'Why it fell' or the forces table while its finding is printed."""
    out = []
    printed = {r.finding.id for b in blocks(brief) for r in b.refs if r.finding.value is not None}
    why = next((s for s in brief.sections if s.id == "why"), None)
    if why is None:
        return out
    from btcstress.brief import why as why_mod
    keys = {f.name: [i for i, _ in f.keys] for f in why_mod.forces_spec()}
    for b in blocks(brief):
        if not b.where.startswith("why"):
            continue
        m = re.search(r"Not available on this date: ([^.]*)\.", b.text)
        names = [n.strip() for n in m.group(1).split(",")] if m else []
        if " table " in b.where and "not available" in b.text and len(b.text.split("not available")) > 1:
            names.append(b.text.split("not available")[0].strip().lstrip("0123456789").strip())
        for name in names:
            shown = [i for i in keys.get(name, []) if i in printed]
            if shown:
                out.append(Failure("contradiction", b.where, b.text,
                                   f"{name} called not available while {shown[0]} is reported in the brief"))
    return out


def stale_value(brief: Brief) -> list[Failure]:
    """A value days old stated without its date."""
    out = []
    day = day_of(brief)
    for b in blocks(brief):
        if " table " in b.where:
            continue
        dates = set(_dates_in(b.text))
        for r in b.refs:
            d = fmt.data_day(r.finding)
            if d is None or r.finding.value is None or (day - d).days < STALE_DAYS:
                continue
            if d not in dates and not any(x.month == d.month and x.day == d.day for x in dates) \
                    and f"{d:%B} {d.day}" not in b.text:
                out.append(Failure("stale_value", b.where, b.text,
                                   f"{r.finding.id} is from {d} ({(day - d).days} days before {day}) without its date"))
    return out


def suspect_in_front(brief: Brief) -> list[Failure]:
    """A value flagged by the quality rules in the headline, a highlight or 'Why it fell'."""
    out = []
    for b in blocks(brief):
        if not (b.where == "headline" or b.where.startswith("highlight") or b.where.startswith("why")):
            continue
        for r in b.refs:
            if isinstance(r.finding.detail, dict) and r.finding.detail.get("suspect"):
                out.append(Failure("suspect_value", b.where, b.text, f"{r.finding.id}: {r.finding.detail['suspect']}"))
    return out


def grid_labels(brief: Brief) -> list[Failure]:
    """A table column labelled by efficiency whose numbers say the opposite."""
    out = []
    for s in brief.sections:
        for t in s.tables:
            cols = [c.lower() for c in t.columns]
            lo = next((i for i, c in enumerate(cols) if "most efficient" in c), None)
            hi = next((i for i, c in enumerate(cols) if "least efficient" in c), None)
            if lo is None or hi is None:
                continue
            for row in t.rows:
                a, b = row[lo], row[hi]
                if isinstance(a, Ref) and isinstance(b, Ref):
                    va, vb = _num(a.text), _num(b.text)
                    if va is not None and vb is not None and vb < va:
                        out.append(Failure("grid_labels", f"{s.id} table '{t.caption}'", " | ".join(t.columns),
                                           f"'least efficient' ({b.text}) is cheaper than 'most efficient' ({a.text})"))
    return out


def _num(text: str) -> float | None:
    m = re.search(r"-?[\d,]+(\.\d+)?", text.replace("$", ""))
    return float(m.group(0).replace(",", "")) if m else None


RULES: dict[str, Callable[[Brief], list[Failure]]] = {
    "trivial_headline": trivial_headline, "garbled": garbled, "lowest_since_span": lowest_since_span,
    "self_referencing_event": self_referencing_event, "gains_since": gains_since, "intraday_claim": intraday_claim,
    "sign_label": sign_consistent, "statistic_base": statistic_base, "normal_range": normal_range,
    "contradiction": contradiction, "stale_value": stale_value, "suspect_value": suspect_in_front,
    "grid_labels": grid_labels,
}


def lint(brief: Brief) -> list[Failure]:
    """Every failure of every rule (an empty list: the brief passes)."""
    return [f for rule in RULES.values() for f in rule(brief)]


def lint_at(store, as_of: dt.datetime, *, price: float | None = None, as_written: bool = True
            ) -> tuple[Brief, list[Failure]]:
    """Build the brief as of an instant from a store and lint it (the function the tests and the sweep
    call; `btcstress lint-brief` prints its result).

    as_written (the default): the brief exactly as `btcstress report` writes it: with its chart series
    (the stress area then also emits its episode and "highest since" findings, which the brief's stress
    section states), read from the snapshot `ingest` stored at a day instant when it is fresh
    (history/snapshots.py; `Brief.served` says which). False: computed without series (cheaper, but the
    stress section's "highest since" and episode sentences are then not in the brief, so not linted:
    the sweep linted that brief until session 6, which hid 2019-05-07's "highest since" 9 days back)."""
    from btcstress import brief as brief_mod
    if as_written:
        from btcstress.history import snapshots
        b = brief_mod.build(snapshots.brief_findings(store, as_of, price=price))
    else:
        from btcstress import metrics
        b = brief_mod.build(metrics.compute(store, as_of, price=price))
    return b, lint(b)
