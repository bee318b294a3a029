"""The core of the claim checker: when a claim is read, which finding it is about, whether its unit
matches, whether it holds within tolerance, and the verdict in words.

What only an area knows (ETF vintages and missing funds, the miners' cost definitions and power-price
sensitivity, the price's named events, liquidations wider than our coins, other readings of the same
figure) is in that area's claim rules (claims/rules.py, `metrics/<area>_claims.py`); the core calls
them at fixed points: `scope` before a finding is picked, `verdict` before the numeric comparison,
`reasons` after it, `alternatives` when the claim does not hold.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Literal

from pydantic import BaseModel, Field

from btcstress.claims import rules
from btcstress.claims.parse import Claim, parse
from btcstress.claims.rules import finding_day, fmt_value, hm, holds, source_name
from btcstress.details import Cited, Dated, Priced
from btcstress.errors import BtcstressError
from btcstress.findings import Finding, FindingSet, iso

VerdictName = Literal["supported", "contradicted", "unverifiable"]

# Subjects that name the same thing as ours.
SUBJECT_ALIASES = {
    "bitcoin": "BTC", "btc": "BTC", "xbt": "BTC",
    "microstrategy": "Strategy", "mstr": "Strategy", "strategy": "Strategy",
    "us spot btc etfs": "US spot BTC ETFs", "us spot bitcoin etfs": "US spot BTC ETFs",
    "spot bitcoin etfs": "US spot BTC ETFs", "spot btc etfs": "US spot BTC ETFs",
    "crypto": "crypto", "all coins": "crypto", "total": "crypto",
}
DAILY_WINDOW = re.compile(r"^(1d|week|wtd|\d+d)$")


class Verdict(BaseModel):
    claim_id: str
    verdict: VerdictName
    claimed: Any
    computed: Any = None
    difference: float | None = None  # computed - claimed (numeric claims)
    difference_pct: float | None = None  # (computed - claimed) / |computed| x 100
    tolerance: str | None = None
    reason: str
    finding: dict[str, Any] | None = None  # the finding compared (id, subject, window, as_of, kind, ...)
    evaluated_as_of: str  # the instant the claim was read at
    quote: str = ""
    unit: str = ""
    comparator: str = ""
    alternatives: list[dict[str, Any]] = Field(default_factory=list)


# -- when a claim is read ---------------------------------------------------------------------------

def _utc(d: dt.date) -> dt.datetime:
    return dt.datetime(d.year, d.month, d.day, tzinfo=dt.timezone.utc)


def evaluation_instant(claim: Claim, as_of: dt.datetime) -> tuple[dt.datetime, bool]:
    """(the instant the claim is read at, whether its day D is complete then). Never later than as_of."""
    d = claim.day
    end = _utc(d) + dt.timedelta(days=1)
    if DAILY_WINDOW.match(claim.window.lower()):
        at = min(as_of, end + dt.timedelta(days=1) - dt.timedelta(seconds=1))
    elif isinstance(claim.as_of, dt.datetime):
        at = min(as_of, claim.as_of)
    else:
        at = min(as_of, end)
    return at, end <= at


# -- checking ---------------------------------------------------------------------------------------

# findings_at(instant, price=None, areas=None) -> FindingSet (areas: only those metric areas)
FindingsAt = Callable[..., FindingSet]


def check(store, claims: list[Claim] | str | Iterable[Mapping[str, Any]], as_of: dt.datetime, *,
          params: dict[str, dict[str, Any]] | None = None) -> list[Verdict]:
    """Verdicts for `claims` (parsed, CSV text or dicts) with the data known at `as_of`. Findings are
    computed once per evaluation instant (and price) from the store and cached."""
    from btcstress import metrics

    cache: dict[tuple, FindingSet | BtcstressError] = {}
    if not isinstance(claims, list) or (claims and not isinstance(claims[0], Claim)):
        claims = parse(claims)  # type: ignore[arg-type]
    needed = areas_for(claims)

    def findings_at(t: dt.datetime, price: float | None = None, areas: tuple[str, ...] | None = None) -> FindingSet:
        areas = areas or needed
        key = (t, price, areas)
        if key not in cache:
            try:
                cache[key] = metrics.compute(store, t, params=params, price=price, areas=areas)
            except BtcstressError as exc:  # no data by then: the claim is unverifiable, the run goes on
                cache[key] = exc
        got = cache[key]
        if isinstance(got, BtcstressError):
            raise got
        return got

    return check_with(claims, as_of, findings_at)


def areas_for(claims: list[Claim]) -> tuple[str, ...] | None:
    """The metric areas the claims need (price always: other areas value things at its price), with
    the areas they read (btcstress.areas); None (all areas) when a claim names an id no area emits."""
    from btcstress import areas
    need = {"price"}
    for c in claims:
        area = areas.of_finding(rules.resolve(c.finding_id)[0])
        if area is None:
            return None
        need.add(area.name)
    return areas.closure(need)


def check_with(claims: list[Claim] | str | Iterable[Mapping[str, Any]], as_of: dt.datetime,
               findings_at: FindingsAt) -> list[Verdict]:
    """The checker over any source of findings: `findings_at(instant, price=None) -> FindingSet`."""
    if not isinstance(claims, list) or (claims and not isinstance(claims[0], Claim)):
        claims = parse(claims)  # type: ignore[arg-type]
    if as_of.tzinfo is None:
        as_of = as_of.replace(tzinfo=dt.timezone.utc)
    return [judge(c, as_of, findings_at) for c in claims]


def judge(claim: Claim, as_of: dt.datetime, findings_at: FindingsAt) -> Verdict:
    at, complete = evaluation_instant(claim, as_of)
    base = dict(claim_id=claim.claim_id, claimed=claim.value, evaluated_as_of=iso(at), quote=claim.quote,
                unit=claim.unit, comparator=claim.comparator)
    if _utc(claim.day) > as_of:
        return Verdict(verdict="unverifiable", reason=f"the claim is about {claim.day}, after --as-of {iso(as_of)}: "
                       "nothing about that day was known yet", **base)
    try:
        fs = findings_at(at, None)
    except BtcstressError as exc:
        return Verdict(verdict="unverifiable", reason=f"no findings as of {iso(at)}: {exc}", **base)
    return Judge(claim, fs, at, complete, as_of, findings_at, base).run()


class Judge:
    """One claim against one FindingSet. Collects the reasons as it goes.

    What an area's claim rules read: `c` (the claim), `id` (the finding id it is read as), `subject`
    (ours), `fs`, `at` (the instant read), `complete` (whether the claim's day is), `findings_at`, and
    write: `notes` (reasons added to any verdict), `alternatives` (other readings offered); they word a
    verdict with `verdict(...)`.
    """

    def __init__(self, claim: Claim, fs: FindingSet, at: dt.datetime, complete: bool, as_of: dt.datetime,
                 findings_at: FindingsAt, base: dict[str, Any]):
        self.c, self.fs, self.at, self.complete, self.as_of = claim, fs, at, complete, as_of
        self.findings_at, self.base = findings_at, base
        self.notes: list[str] = []
        self.alternatives: list[dict[str, Any]] = []
        self.id, how = rules.resolve(claim.finding_id)
        self.rules = rules.rules_for(self.id)
        self.subject = SUBJECT_ALIASES.get(claim.subject.strip().lower(), claim.subject.strip())
        if self.id != claim.finding_id:
            self.notes.append(f"'{claim.finding_id}' is read as {self.id}" + (f" ({how})" if how else ""))
        if at < as_of:
            self.notes.append(f"read as of {hm(at)}, the end of the claim's day, not --as-of {hm(as_of)}"
                              if not DAILY_WINDOW.match(claim.window.lower())
                              else f"read as of {hm(at)}, the last instant at which {claim.day} is the latest "
                              "complete day")

    # -- outcome helpers --
    def verdict(self, v: VerdictName, f: Finding | None, *, computed: Any = None, reason: str = "",
                difference: float | None = None, difference_pct: float | None = None,
                tolerance: str | None = None) -> Verdict:
        head, _, tail = reason.partition("; ")
        text = "; ".join(x for x in [head, *self.notes, tail] if x)
        return Verdict(verdict=v, computed=computed, difference=_round(difference), difference_pct=_round(difference_pct, 2),
                       tolerance=tolerance, reason=text, finding=_summary(f),
                       alternatives=self.alternatives, **self.base)

    def _hook(self, name: str, *args) -> Verdict | None:
        """The first verdict an area's rule gives at this step (`scope` or `verdict`), or None."""
        for r in self.rules:
            fn = getattr(r, name)
            got = fn(self, *args) if fn is not None else None
            if got is not None:
                return got
        return None

    # -- the steps --
    def run(self) -> Verdict:
        c = self.c
        candidates = [f for f in self.fs.all(self.id)]
        if not candidates:
            known = sorted({f.id.split(".")[0] for f in self.fs})
            return self.verdict("unverifiable", None, reason=f"no finding {self.id!r} exists in btcstress "
                                f"(areas: {', '.join(known)}): no available data covers this figure")
        ruled = self._hook("scope", candidates)
        if ruled is not None:
            return ruled
        f = self.pick(candidates)
        if f is None:
            subjects = sorted({x.subject for x in candidates})
            return self.verdict("unverifiable", None, reason=f"{self.id} is not computed for {c.subject!r} "
                                f"(subjects: {', '.join(subjects)})")
        if f.kind == "cited":
            return self.verdict("unverifiable", f, computed=f.value, reason=(
                f"only a cited figure exists ({Cited.of(f).source or 'third party'}: {fmt_value(f.value, f.unit)}); "
                "a cited figure is not evidence from our data"))
        f = self.day_of(f)
        if f is None:
            return self._last
        if f.value is None:
            return self.verdict("unverifiable", f, reason=f"{self.id} for {f.subject} is {f.note or 'not available'}")
        ruled = self._hook("verdict", f)
        if ruled is not None:
            return ruled
        if not isinstance(f.value, (int, float)) or isinstance(f.value, bool):
            return self.equal_text(f)
        if isinstance(c.value, str):
            return self.verdict("unverifiable", f, computed=f.value,
                                reason=f"the claimed value {c.value!r} is not a number but {self.id} is")
        if not _unit_ok(c.unit, f.unit):
            return self.verdict("unverifiable", f, computed=f.value,
                                reason=f"unit mismatch: the claim is in {c.unit}, {self.id} in {f.unit}")
        return self.compare(f)

    def pick(self, candidates: list[Finding]) -> Finding | None:
        """The finding for the claim's subject (ours, not cited, if both exist) and window."""
        subj = self.subject.lower()
        same = [f for f in candidates if f.subject.lower() == subj]
        if not same and "@" in self.c.subject:  # a market like BTCUSDT@Binance: the asset's findings
            asset = self.c.subject.split("@")[0].upper()
            for a in ("BTC", "ETH"):
                if asset.startswith(a):
                    same = [f for f in candidates if f.subject == a]
                    if same:
                        self.notes.append(f"the subject {self.c.subject} is read as {a} "
                                          f"(events on every venue and symbol recorded for {a})")
                    break
        if not same and len({f.subject for f in candidates}) == 1 and self.subject.upper() in ("BTC", "CRYPTO"):
            same = candidates
        if not same:
            return None
        ours = [f for f in same if f.kind != "cited"] or same
        w = want = self.c.window.lower()
        for f in ours:
            if f.window.lower().startswith(want):
                return f
        if w not in ("spot", "all", "since", "week") and ours[0].window and not ours[0].window.startswith(want):
            self.notes.append(f"the claim's window is {self.c.window}; {self.id} is computed over "
                              f"{ours[0].window}")
        if w == "week" and ours[0].window:
            self.notes.append(f"the claim's 'week' is read as {self.id}'s window {ours[0].window}")
        return ours[0]

    def day_of(self, f: Finding) -> Finding | None:
        """For a daily claim: the finding must be about the claim's day, or say why not."""
        if not DAILY_WINDOW.match(self.c.window.lower()) or self.c.window.lower() == "week":
            return f
        day = finding_day(f)
        if day is None or day == self.c.day:
            return f
        if self.complete:
            self._last = self.verdict("unverifiable", f, computed=f.value, reason=(
                f"no {self.id} for {self.c.day} in the data: the latest day published by {hm(self.at)} is {day}"))
            return None
        stand_in = rules.intraday(self.id)
        sub = self.fs.get(stand_in, f.subject) if stand_in else None
        bar = (Dated.of(sub).bar_open or "")[:10] if sub is not None and sub.value is not None else ""
        if sub is not None and bar == self.c.day.isoformat():
            self.notes.append(f"{self.c.day} is not complete at {hm(self.at)}: compared with the figure so far "
                              f"that day, {sub.id} ({fmt_value(sub.value, sub.unit)} in the bar opened "
                              f"{Dated.of(sub).bar_open}, {source_name(sub)})")
            return sub
        self.notes.append(f"{self.c.day} is not complete at {hm(self.at)}: compared with the latest complete "
                          f"day, {day}")
        return f

    def equal_text(self, f: Finding) -> Verdict:
        ok = str(f.value).strip().lower() == str(self.c.value).strip().lower()
        if self.c.comparator != "eq":
            return self.verdict("unverifiable", f, computed=f.value,
                                reason=f"{self.id} is {f.value!r}, not a number to compare with {self.c.comparator}")
        return self.verdict("supported" if ok else "contradicted", f, computed=f.value,
                            reason="" if ok else f"{self.id} is {f.value!r}")

    def compare(self, f: Finding) -> Verdict:
        c, claimed, got = self.c, float(self.c.value), float(f.value)
        diff = got - claimed
        rel = 100 * diff / abs(got) if got else None
        ok, tol = holds(c.comparator, claimed, got, self.id, f.unit, c.value)
        parts = []
        if c.comparator == "approx":
            parts.append(f"{fmt_value(got, f.unit)} vs claimed {fmt_value(claimed, f.unit)}: "
                         + (f"{abs(diff):.2f} pp" if f.unit == "pct" else f"{abs(rel):.1f}%" if rel is not None else "")
                         + (" within" if ok else " outside") + f" the tolerance of {tol}")
        elif c.comparator in ("gt", "lt"):
            parts.append(f"{fmt_value(got, f.unit)} is {'above' if got > claimed else 'below' if got < claimed else 'equal to'} "
                         f"{fmt_value(claimed, f.unit)}")
        else:
            parts.append(f"{fmt_value(got, f.unit)} {'equals' if ok else 'differs from'} {fmt_value(claimed, f.unit)}")
        parts += self.specifics(f, ok)
        if not ok or c.window.lower() == "week":
            parts += self.other_readings(f)
        return self.verdict("supported" if ok else "contradicted", f, computed=got, difference=diff,
                            difference_pct=rel, tolerance=tol if c.comparator == "approx" else None,
                            reason="; ".join(p for p in parts if p))

    def specifics(self, f: Finding, ok: bool) -> list[str]:
        """The reason's specifics: modelled or not, the area's own reasons, the price it is valued at."""
        out = []
        if f.kind == "modelled":
            out.append(f"modelled, not observed: {self.id} depends on its parameters ({_params(f.params)})")
        for r in self.rules:
            if r.reasons is not None:
                out += r.reasons(self, f, ok)
        priced = Priced.of(f)
        if priced.price_from and priced.price_usd is not None:
            out.append(f"price-dependent: valued at {fmt_value(priced.price_usd, 'USD')} "
                       f"({priced.price_from}{', hypothetical' if f.hypothetical else ''}, as of {hm(self.at)})")
        return out

    def other_readings(self, f: Finding) -> list[str]:
        """Findings over another window or source (the area's alternatives), or the same finding valued
        at the day's close, that match."""
        out = []
        for alt_id in rules.alternatives(self.id):
            alt = self.fs.get(alt_id, f.subject)
            if alt is None or alt.value is None or not isinstance(alt.value, (int, float)):
                continue
            hit = holds(self.c.comparator, float(self.c.value), float(alt.value), alt_id, alt.unit, self.c.value)[0]
            out.append(f"{alt_id} ({alt.window}, {source_name(alt)}) is {fmt_value(alt.value, alt.unit)}"
                       + (": the claim matches that reading, a different window or source" if hit else ""))
            self.alternatives.append({"what": "other finding", "id": alt_id, "window": alt.window,
                                      "value": alt.value, "matches": hit})
        if Priced.of(f).price_from == "price.last_usd" and not f.hypothetical:
            out += self.at_the_close(f)
        return out

    def at_the_close(self, f: Finding) -> list[str]:
        """A price-dependent finding valued at the day's close instead of the last price."""
        close = self.fs.get("price.close_usd")
        if close is None or close.value is None:
            return []
        try:
            from btcstress import areas as registry
            area = registry.of_finding(f.id)
            areas = registry.closure(["price"] + ([area.name] if area else []))
            at_close = self.findings_at(self.at, float(close.value), areas).get(f.id, f.subject)
        except BtcstressError:
            at_close = None
        if at_close is None or not isinstance(at_close.value, (int, float)):
            return []
        hit = holds(self.c.comparator, float(self.c.value), float(at_close.value), self.id, f.unit, self.c.value)[0]
        self.alternatives.append({"what": "valued at the daily close", "price_usd": close.value,
                                  "value": at_close.value, "matches": hit})
        return [f"at the {Dated.of(close).date} daily close ({fmt_value(close.value, 'USD')}, "
                f"price.close_usd) it is {fmt_value(at_close.value, f.unit)}"
                + (": the claim matches a valuation at the close, not at the current price" if hit else "")]


# -- small helpers ----------------------------------------------------------------------------------

def _unit_ok(claim_unit: str, unit: str) -> bool:
    a, b = claim_unit.strip().lower(), unit.strip().lower()
    return a == b or {a, b} <= {"pct", "%", "percent"}


def _params(p: dict[str, Any]) -> str:
    keep = {k: v for k, v in p.items() if not isinstance(v, (list, dict))}
    return ", ".join(f"{k}={v}" for k, v in keep.items()) or "none"


def _round(v: float | None, digits: int = 6) -> float | None:
    return None if v is None else round(v, digits)


def _summary(f: Finding | None) -> dict[str, Any] | None:
    if f is None:
        return None
    return f.model_dump(mode="json", exclude={"detail", "unusual"})
