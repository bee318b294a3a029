"""The claim checker: a claims file -> one verdict per claim, from findings only.

A claim says "finding F, for subject S, over window W on day D, is about / above / below / equal to V".
Each claim is evaluated with the findings as known at one instant (see `evaluation_instant`):

- a claim about a *daily* figure of day D (window `1d`, `week`, `Nd`) is read as of the last instant
  before day D+1 ends, but never later than --as-of: day D is then the latest complete day, and every
  version of D published during the following day (a late ETF vintage) counts;
- any other claim (`spot`, `24h`, `all`, `since`) is read as of the end of day D, never later than --as-of.

When day D is still running at that instant, the claim is read as "the latest figure known that day" and
the reason says so. Verdicts: `supported` (within tolerance, or the comparison holds), `contradicted`
(it does not) and `unverifiable` (no finding covers it: not in the data, a wider scope than ours, or
only a cited figure). Every verdict carries the computed value, the difference and the reason.

The checker compares; it never computes a new metric. Alternative readings it offers (another window,
another vintage, the day's close instead of spot) are other findings, or the same finding from the
metrics at another price (the metrics' own `price` override), each named in the reason.
Tolerances, mappings and rules: docs/METRICS.md, "## Claims".
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import math
import re
from collections.abc import Callable, Iterable, Mapping
from itertools import combinations
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field

from btcstress.errors import BtcstressError, InputError
from btcstress.findings import Finding, FindingSet, iso

Verdict_ = Literal["supported", "contradicted", "unverifiable"]
COLUMNS = ("claim_id", "finding_id", "subject", "comparator", "value", "unit", "as_of", "window", "quote")
COMPARATORS = ("approx", "gt", "lt", "eq")

# -- tolerances for `approx` (documented in docs/METRICS.md#claims) ---------------------------------

# USD figures that are a price per BTC: 2% (relative). Other USD figures (totals, flows, P&L): 10%.
PER_BTC_USD = {"price.last_usd", "price.low_24h_usd", "price.high_24h_usd", "price.close_usd", "price.low_usd",
               "price.high_usd", "price.ath_usd", "miners.production_cost_usd", "miners.electricity_cost_usd",
               "treasury.avg_cost_usd", "treasury.breakeven_price_usd", "etf.holders_cost_basis_usd"}
TOLERANCE = {
    "price": ("rel", 0.02, "2% of the computed price"),
    "USD": ("rel", 0.10, "10% of the computed USD total"),
    "pct": ("abs", 2.0, "2 percentage points"),
    "BTC": ("rel", 0.01, "1% of the computed BTC amount"),
    "other": ("rel", 0.02, "2% of the computed value"),
}

# -- how claim vocabulary maps to findings ----------------------------------------------------------

# Claim finding ids that are not finding ids verbatim, and what they mean.
ID_MAP = {
    # "the price is below the close of event X": membership of X in price.below_event's list
    "price.below_event_close": "price.below_event",
}
# Subjects that name the same thing as ours.
SUBJECT_ALIASES = {
    "bitcoin": "BTC", "btc": "BTC", "xbt": "BTC",
    "microstrategy": "Strategy", "mstr": "Strategy", "strategy": "Strategy",
    "us spot btc etfs": "US spot BTC ETFs", "us spot bitcoin etfs": "US spot BTC ETFs",
    "spot bitcoin etfs": "US spot BTC ETFs", "spot btc etfs": "US spot BTC ETFs",
    "crypto": "crypto", "all coins": "crypto", "total": "crypto",
}
# Our liquidation findings cover BTC, ETH and BTC+ETH (CryptoQuant); a claim about all coins is wider.
LIQUIDATION_SCOPE = ("BTC", "ETH", "BTC+ETH")
WIDER_THAN_OURS = {"crypto"}
# Other findings that answer the same question over another window or source; offered in the reason
# when the claimed figure matches one of them instead.
ALTERNATIVES = {
    "price.change_24h_pct": ("price.change_1d_pct", "price.max_drop_24h_pct"),
    "price.low_usd": ("price.low_24h_usd",),
    "price.high_usd": ("price.high_24h_usd",),
    "price.low_24h_usd": ("price.low_usd",),
    "price.last_usd": ("price.close_usd",),
    "price.close_usd": ("price.last_usd",),
    "etf.outflow_streak_usd": ("etf.week_to_date_usd",),
    "etf.week_to_date_usd": ("etf.outflow_streak_usd",),
    # A production cost under another definition (docs/METRICS.md#miners): the claim names one.
    "miners.production_cost_usd": ("miners.cash_cost_usd", "miners.electricity_cost_usd"),
    "miners.cash_cost_usd": ("miners.production_cost_usd", "miners.electricity_cost_usd"),
    "miners.electricity_cost_usd": ("miners.cash_cost_usd", "miners.production_cost_usd"),
}
# When day D is still running, these figures of D so far stand in for the daily one (if they fall in D).
INTRADAY = {"price.low_usd": "price.low_24h_usd", "price.high_usd": "price.high_24h_usd"}
DAILY_WINDOW = re.compile(r"^(1d|week|wtd|\d+d)$")


class Claim(BaseModel):
    claim_id: str
    finding_id: str
    subject: str
    comparator: Literal["approx", "gt", "lt", "eq"]
    value: float | str
    unit: str
    as_of: dt.date | dt.datetime
    window: str
    quote: str = ""

    @property
    def day(self) -> dt.date:
        return self.as_of.date() if isinstance(self.as_of, dt.datetime) else self.as_of


class Verdict(BaseModel):
    claim_id: str
    verdict: Verdict_
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


# -- parsing ----------------------------------------------------------------------------------------

def parse(source: str | Iterable[Mapping[str, Any]]) -> list[Claim]:
    """Claims from CSV text (with the header row) or from a list of dicts (an API body).
    Raises InputError naming the row and the field on anything malformed."""
    if isinstance(source, str):
        reader = csv.DictReader(io.StringIO(source.lstrip("\ufeff")))
        header = [h.strip() for h in (reader.fieldnames or [])]
        if not header:
            raise InputError("claims: empty file (expected a header row: " + ",".join(COLUMNS) + ")")
        _check_columns(header)
        rows: list[Mapping[str, Any]] = [{k.strip(): v for k, v in r.items() if k is not None} for r in reader]
        first_line = 2
    else:
        rows = list(source)
        for r in rows:
            if not isinstance(r, Mapping):
                raise InputError(f"claims: expected objects with fields {', '.join(COLUMNS)}, got {type(r).__name__}")
            _check_columns(list(r), partial_quote=True)
        first_line = 1
    if not rows:
        raise InputError("claims: no claims in the input")
    out: list[Claim] = []
    seen: set[str] = set()
    for n, r in enumerate(rows, start=first_line):
        claim = _claim(r, n if isinstance(source, str) else f"#{n}")
        if claim.claim_id in seen:
            raise InputError(f"claims line {n}: duplicate claim_id {claim.claim_id!r}")
        seen.add(claim.claim_id)
        out.append(claim)
    return out


def read(path: str | Path) -> list[Claim]:
    p = Path(path)
    if not p.is_file():
        raise InputError(f"claims file {p} not found")
    try:
        text = p.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise InputError(f"claims file {p} is not UTF-8 text") from None
    return parse(text)


def _check_columns(header: list[str], partial_quote: bool = False) -> None:
    missing = [c for c in COLUMNS if c not in header and not (partial_quote and c == "quote")]
    unknown = [c for c in header if c not in COLUMNS]
    if missing or unknown:
        msg = []
        if missing:
            msg.append(f"missing column(s) {', '.join(missing)}")
        if unknown:
            msg.append(f"unknown column(s) {', '.join(unknown)}")
        raise InputError(f"claims: {'; '.join(msg)} (expected {','.join(COLUMNS)})")


def _claim(r: Mapping[str, Any], line: Any) -> Claim:
    def field(name: str, required: bool = True) -> str:
        v = r.get(name)
        v = "" if v is None else str(v).strip()
        if required and not v:
            raise InputError(f"claims line {line}: empty {name}")
        return v

    comparator = field("comparator").lower()
    if comparator not in COMPARATORS:
        raise InputError(f"claims line {line}: comparator {comparator!r} is not one of {', '.join(COMPARATORS)}")
    raw = field("value")
    value: float | str
    try:
        value = float(raw.replace(",", "").replace("_", ""))
        if not math.isfinite(value):
            raise ValueError
    except ValueError:
        if comparator != "eq":
            raise InputError(f"claims line {line}: value {raw!r} is not a number (needed for {comparator})") from None
        value = raw
    as_of_raw = field("as_of")
    try:
        as_of: dt.date | dt.datetime = (dt.date.fromisoformat(as_of_raw) if len(as_of_raw) == 10
                                        else _instant(as_of_raw))
    except (ValueError, InputError):
        raise InputError(f"claims line {line}: as_of {as_of_raw!r} is not a date (YYYY-MM-DD) or UTC instant") from None
    return Claim(claim_id=field("claim_id"), finding_id=field("finding_id"), subject=field("subject"),
                 comparator=comparator, value=value, unit=field("unit"), as_of=as_of, window=field("window"),
                 quote=field("quote", required=False))


def _instant(text: str) -> dt.datetime:
    from btcstress.config import parse_instant
    return parse_instant(text)


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
        area = areas.of_finding(ID_MAP.get(c.finding_id, c.finding_id))
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
    return _Judge(claim, fs, at, complete, as_of, findings_at, base).run()


class _Judge:
    """One claim against one FindingSet. Collects the reasons as it goes."""

    def __init__(self, claim: Claim, fs: FindingSet, at: dt.datetime, complete: bool, as_of: dt.datetime,
                 findings_at: FindingsAt, base: dict[str, Any]):
        self.c, self.fs, self.at, self.complete, self.as_of = claim, fs, at, complete, as_of
        self.findings_at, self.base = findings_at, base
        self.notes: list[str] = []
        self.alternatives: list[dict[str, Any]] = []
        self.id = ID_MAP.get(claim.finding_id, claim.finding_id)
        self.subject = SUBJECT_ALIASES.get(claim.subject.strip().lower(), claim.subject.strip())
        if self.id != claim.finding_id:
            self.notes.append(f"'{claim.finding_id}' is read as {self.id}"
                              + (" (is the event among those whose close is above the price)"
                                 if self.id == "price.below_event" else ""))
        if at < as_of:
            self.notes.append(f"read as of {_hm(at)}, the end of the claim's day, not --as-of {_hm(as_of)}"
                              if not DAILY_WINDOW.match(claim.window.lower())
                              else f"read as of {_hm(at)}, the last instant at which {claim.day} is the latest "
                              "complete day")

    # -- outcome helpers --
    def verdict(self, v: Verdict_, f: Finding | None, *, computed: Any = None, reason: str = "",
                difference: float | None = None, difference_pct: float | None = None,
                tolerance: str | None = None) -> Verdict:
        head, _, tail = reason.partition("; ")
        text = "; ".join(x for x in [head, *self.notes, tail] if x)
        return Verdict(verdict=v, computed=computed, difference=_round(difference), difference_pct=_round(difference_pct, 2),
                       tolerance=tolerance, reason=text, finding=_summary(f),
                       alternatives=self.alternatives, **self.base)

    # -- the steps --
    def run(self) -> Verdict:
        c = self.c
        candidates = [f for f in self.fs.all(self.id)]
        if not candidates:
            known = sorted({f.id.split(".")[0] for f in self.fs})
            return self.verdict("unverifiable", None, reason=f"no finding {self.id!r} exists in btcstress "
                                f"(areas: {', '.join(known)}): no available data covers this figure")
        if self.id.startswith("liquidations.") and self.subject in WIDER_THAN_OURS:
            return self.wider_scope(candidates)
        f = self.pick(candidates)
        if f is None:
            subjects = sorted({x.subject for x in candidates})
            return self.verdict("unverifiable", None, reason=f"{self.id} is not computed for {c.subject!r} "
                                f"(subjects: {', '.join(subjects)})")
        if f.kind == "cited":
            return self.verdict("unverifiable", f, computed=f.value, reason=(
                f"only a cited figure exists ({f.detail.get('source', 'third party')}: {_fmt(f.value, f.unit)}); "
                "a cited figure is not evidence from our data"))
        f = self.day_of(f)
        if f is None:
            return self._last
        if f.value is None:
            return self.verdict("unverifiable", f, reason=f"{self.id} for {f.subject} is {f.note or 'not available'}")
        if self.id == "price.below_event":
            return self.event(f)
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
        day = _finding_day(f)
        if day is None or day == self.c.day:
            return f
        if self.complete:
            self._last = self.verdict("unverifiable", f, computed=f.value, reason=(
                f"no {self.id} for {self.c.day} in the data: the latest day published by {_hm(self.at)} is {day}"))
            return None
        sub = self.fs.get(INTRADAY[self.id], f.subject) if self.id in INTRADAY else None
        bar = (sub.detail.get("bar_open") or "")[:10] if sub is not None and sub.value is not None else ""
        if sub is not None and bar == self.c.day.isoformat():
            self.notes.append(f"{self.c.day} is not complete at {_hm(self.at)}: compared with the figure so far "
                              f"that day, {sub.id} ({_fmt(sub.value, sub.unit)} in the bar opened "
                              f"{sub.detail['bar_open']}, {_source_name(sub)})")
            return sub
        self.notes.append(f"{self.c.day} is not complete at {_hm(self.at)}: compared with the latest complete "
                          f"day, {day}")
        return f

    def wider_scope(self, candidates: list[Finding]) -> Verdict:
        """A claim about all coins against our BTC/ETH/BTC+ETH liquidations."""
        ours = [f for f in candidates if f.kind != "cited" and f.subject == "BTC+ETH"]
        f = None
        w = self.c.window.lower()
        for x in ours:
            if x.window.lower().startswith("1d" if w in ("24h", "1d") else w) and x.value is not None:
                f = x
                break
        if f is None:
            f = next((x for x in ours if x.value is not None), ours[0] if ours else None)
        what = ("our liquidation data (CryptoQuant daily, all exchanges) cover BTC and ETH only, not all coins "
                f"as the claim's subject '{self.c.subject}' does")
        cited = [x for x in candidates if x.kind == "cited" and x.subject.lower() == self.subject.lower()]
        if cited:
            what += (f"; a cited figure ({cited[0].detail.get('source', 'third party')}: "
                     f"{_fmt(cited[0].value, cited[0].unit)}) is reported but is not evidence from our data")
        if f is None or f.value is None:
            return self.verdict("unverifiable", f, reason=what + (f"; {f.note}" if f is not None and f.note else ""))
        day = _finding_day(f)
        have = f"BTC+ETH was {_fmt(f.value, f.unit)} on {day} (UTC day, not a rolling {self.c.window})"
        if self.id.endswith("_usd") and self.c.comparator == "gt" and isinstance(self.c.value, float) \
                and f.value > self.c.value:
            return self.verdict("supported", f, computed=f.value, difference=f.value - self.c.value, reason=(
                f"{what}; BTC+ETH alone ({_fmt(f.value, f.unit)}, {day}) already exceeds the claim, and an all-coin "
                "total can only be larger"))
        if self.id.endswith("_usd") and self.c.comparator in ("gt", "approx") and isinstance(self.c.value, float):
            return self.verdict("unverifiable", f, computed=f.value, difference=f.value - self.c.value, reason=(
                f"{what}; {have}, a lower bound for all coins that neither confirms nor refutes "
                f"{_fmt(self.c.value, 'USD')}"))
        return self.verdict("unverifiable", f, computed=f.value, reason=(
            f"{what}; {have}: a share over BTC and ETH is not a share over all coins"
            if self.id.endswith("_pct") else f"{what}; {have}"))

    def event(self, f: Finding) -> Verdict:
        events = {e["id"]: e for e in f.detail.get("events", [])}
        want = str(self.c.value).strip()
        price = f.detail.get("price")
        where = f"price {_fmt(price, 'USD')} ({_source_name(f)})" if price is not None else "the price"
        if want in events:
            e = events[want]
            return self.verdict("supported", f, computed=want, reason=(
                f"{where} is below the close of {e['title']} ({e['date']}: {_fmt(e['close'], 'USD')})"))
        return self.verdict("contradicted" if f.detail.get("events_with_a_close") else "unverifiable", f,
                            computed=sorted(events), reason=(
            f"{want!r} is not among the events whose close is above {where}: "
            f"{', '.join(events) or 'none'} (events table: src/btcstress/data/events.csv)"))

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
        ok, tol = _holds(c.comparator, claimed, got, self.id, f.unit, c.value)
        parts = []
        if c.comparator == "approx":
            parts.append(f"{_fmt(got, f.unit)} vs claimed {_fmt(claimed, f.unit)}: "
                         + (f"{abs(diff):.2f} pp" if f.unit == "pct" else f"{abs(rel):.1f}%" if rel is not None else "")
                         + (" within" if ok else " outside") + f" the tolerance of {tol}")
        elif c.comparator in ("gt", "lt"):
            parts.append(f"{_fmt(got, f.unit)} is {'above' if got > claimed else 'below' if got < claimed else 'equal to'} "
                         f"{_fmt(claimed, f.unit)}")
        else:
            parts.append(f"{_fmt(got, f.unit)} {'equals' if ok else 'differs from'} {_fmt(claimed, f.unit)}")
        parts += self.specifics(f, ok)
        if not ok or c.window.lower() == "week":
            parts += self.other_readings(f)
        return self.verdict("supported" if ok else "contradicted", f, computed=got, difference=diff,
                            difference_pct=rel, tolerance=tol if c.comparator == "approx" else None,
                            reason="; ".join(p for p in parts if p))

    # -- specific reasons --
    def specifics(self, f: Finding, ok: bool) -> list[str]:
        out = []
        if f.kind == "modelled":
            out.append(f"modelled, not observed: {self.id} depends on its parameters ({_params(f.params)})")
            grid = f.detail.get("sensitivity") or {}
            if grid and self.c.comparator in ("gt", "lt", "approx"):
                rows = [(k, v.get("power_price_usd_kwh"), v.get("fleet_base_weighted")) for k, v in grid.items()
                        if v.get("fleet_base_weighted") is not None]
                holds = [(k, pp, v) for k, pp, v in rows
                         if _holds(self.c.comparator, float(self.c.value), float(v), self.id, f.unit, self.c.value)[0]]
                band = ", ".join(f"${pp}/kWh: {_fmt(v, 'USD')}" for _, pp, v in rows)
                out.append(f"power-price sensitivity ({band}): the claim holds at "
                           + (", ".join(f"${pp}/kWh" for _, pp, _ in holds) if holds else "none of them"))
        if f.detail.get("definition") and self.id.startswith("miners."):
            out.append(f"definition: {f.detail['definition']} at ${f.detail.get('power_price_usd_kwh')}/kWh")
            pub = [p for p in self.fs.all("miners.published_cost_usd") if p.value is not None]
            if pub:
                out.append("published (cited, known by then): " + "; ".join(
                    f"{p.subject} {p.detail.get('published')} {_fmt(p.value, 'USD')} "
                    f"({p.detail.get('definition') or 'definition not stated'})" for p in pub))
        if self.id == "etf.net_flow_usd":
            out += self.vintage(f, ok)
        if self.id in ("etf.outflow_streak_usd", "etf.week_to_date_usd"):
            prelim = [d["date"] for d in f.detail.get("days") or [] if d.get("preliminary")]
            out.append(f"preliminary days: {', '.join(prelim)}" if prelim else "every day read from its final vintage")
        if f.detail.get("price_from") and f.detail.get("price_usd") is not None:
            out.append(f"price-dependent: valued at {_fmt(f.detail['price_usd'], 'USD')} "
                       f"({f.detail['price_from']}{', hypothetical' if f.hypothetical else ''}, as of {_hm(self.at)})")
        if self.id.startswith("price.") and not out and f.id == self.id:
            out.append(f"source: {_source_name(f)}")
        return out

    def vintage(self, f: Finding, ok: bool) -> list[str]:
        d, out = f.detail, []
        state = (f"preliminary vintage published {d.get('vintage')}: {', '.join(d.get('missing_funds', []))} "
                 "not yet reported" if d.get("preliminary") else f"final vintage (published {d.get('vintage')})")
        out.append(f"ETF day {d.get('date')}, {state}")
        claimed = float(self.c.value)
        for v in d.get("vintages", []):
            if v["vintage"] == d.get("vintage") or v.get("net_flow_usd") is None:
                continue
            if _holds("approx", claimed, float(v["net_flow_usd"]), self.id, "USD", claimed)[0]:
                kind = (f"preliminary, {', '.join(v.get('missing_funds', []))} not reported" if v.get("preliminary")
                        else "final")
                out.append(f"the claim matches another vintage of that day: {_fmt(v['net_flow_usd'], 'USD')} "
                           f"published {v['vintage']} ({kind})")
                self.alternatives.append({"what": "vintage", "vintage": v["vintage"], "value": v["net_flow_usd"],
                                          "preliminary": v.get("preliminary")})
        if ok:
            return out
        # A figure published before some funds reported: the total without them (the funds' own findings).
        funds = [x for x in self.fs.all("etf.flow_usd") if str(_finding_day(x)) == d.get("date") and x.value]
        for k in (1, 2):
            for combo in combinations(funds, k):
                without = f.value - sum(x.value for x in combo)
                if _holds("approx", claimed, without, self.id, "USD", claimed, tight=True)[0]:
                    names = " and ".join(x.subject for x in combo)
                    out.append(f"the claim equals the total without {names} "
                               f"({', '.join(_fmt(x.value, 'USD') for x in combo)}): {_fmt(without, 'USD')}, what a "
                               f"preliminary table shows before {names} reported; the final figure is "
                               f"{_fmt(f.value, 'USD')}")
                    self.alternatives.append({"what": "preliminary (funds missing)", "missing_funds":
                                              [x.subject for x in combo], "value": without})
                    return out
        return out

    def other_readings(self, f: Finding) -> list[str]:
        """Findings over another window or source, or the same finding at the day's close, that match."""
        out = []
        for alt_id in ALTERNATIVES.get(self.id, ()):
            alt = self.fs.get(alt_id, f.subject)
            if alt is None or alt.value is None or not isinstance(alt.value, (int, float)):
                continue
            hit = _holds(self.c.comparator, float(self.c.value), float(alt.value), alt_id, alt.unit, self.c.value)[0]
            out.append(f"{alt_id} ({alt.window}, {_source_name(alt)}) is {_fmt(alt.value, alt.unit)}"
                       + (": the claim matches that reading, a different window or source" if hit else ""))
            self.alternatives.append({"what": "other finding", "id": alt_id, "window": alt.window,
                                      "value": alt.value, "matches": hit})
        if f.detail.get("price_from") == "price.last_usd" and not f.hypothetical:
            close = self.fs.get("price.close_usd")
            if close is not None and close.value is not None:
                try:
                    from btcstress import areas as registry
                    area = registry.of_finding(f.id)
                    areas = registry.closure(["price"] + ([area.name] if area else []))
                    at_close = self.findings_at(self.at, float(close.value), areas).get(f.id, f.subject)
                except BtcstressError:
                    at_close = None
                if at_close is not None and isinstance(at_close.value, (int, float)):
                    hit = _holds(self.c.comparator, float(self.c.value), float(at_close.value), self.id, f.unit,
                                 self.c.value)[0]
                    out.append(f"at the {close.detail.get('date')} daily close ({_fmt(close.value, 'USD')}, "
                               f"price.close_usd) it is {_fmt(at_close.value, f.unit)}"
                               + (": the claim matches a valuation at the close, not at the current price" if hit
                                  else ""))
                    self.alternatives.append({"what": "valued at the daily close", "price_usd": close.value,
                                              "value": at_close.value, "matches": hit})
        return out


# -- small helpers ----------------------------------------------------------------------------------

def tolerance_for(finding_id: str, unit: str) -> tuple[str, float, str]:
    if unit == "USD":
        return TOLERANCE["price" if finding_id in PER_BTC_USD else "USD"]
    return TOLERANCE.get(unit, TOLERANCE["other"])


def _holds(comparator: str, claimed: float, got: float, finding_id: str, unit: str, raw: Any,
           tight: bool = False) -> tuple[bool, str]:
    kind, tol, text = tolerance_for(finding_id, unit)
    if comparator == "gt":
        return got > claimed, text
    if comparator == "lt":
        return got < claimed, text
    if comparator == "eq":
        decimals = _decimals(raw)
        return abs(got - claimed) <= 0.5 * 10 ** -decimals, f"equal at the claim's precision ({decimals} decimals)"
    if tight:  # matching a sum of published parts: rounding only (0.1%)
        return abs(got - claimed) <= 0.001 * abs(got), text
    limit = tol if kind == "abs" else tol * abs(got)
    return abs(got - claimed) <= limit + 1e-9 * max(1.0, abs(got)), text


def _decimals(raw: Any) -> int:
    s = str(raw)
    return len(s.split(".", 1)[1].rstrip("0")) if "." in s else 0


def _unit_ok(claim_unit: str, unit: str) -> bool:
    a, b = claim_unit.strip().lower(), unit.strip().lower()
    return a == b or {a, b} <= {"pct", "%", "percent"}


def _finding_day(f: Finding) -> dt.date | None:
    for key in ("date", "day"):
        v = f.detail.get(key)
        if isinstance(v, str) and re.fullmatch(r"\d{4}-\d{2}-\d{2}", v):
            return dt.date.fromisoformat(v)
    m = re.search(r"(\d{4}-\d{2}-\d{2})$", f.window or "")
    return dt.date.fromisoformat(m[1]) if m else None


def _source_name(f: Finding) -> str:
    """The price market(s) a finding used, from its candles sources' notes."""
    notes = list(dict.fromkeys(s.note for s in f.sources if s.note and s.table == "candles" and "closes" not in s.note))
    if notes:
        return " + ".join(notes)
    return f.params.get("market") or (f.sources[0].origin if f.sources else "no source")


def _params(p: dict[str, Any]) -> str:
    keep = {k: v for k, v in p.items() if not isinstance(v, (list, dict))}
    return ", ".join(f"{k}={v}" for k, v in keep.items()) or "none"


def _fmt(v: Any, unit: str) -> str:
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


def _hm(t: dt.datetime) -> str:
    t = t.astimezone(dt.timezone.utc)
    if t.microsecond == 999999:
        return f"{t:%Y-%m-%d} 24:00Z (end of day)"
    return f"{t:%Y-%m-%d %H:%M}Z"


def _round(v: float | None, digits: int = 6) -> float | None:
    return None if v is None else round(v, digits)


def _summary(f: Finding | None) -> dict[str, Any] | None:
    if f is None:
        return None
    d = f.model_dump(mode="json", exclude={"detail", "unusual"})
    return d


# -- output -----------------------------------------------------------------------------------------

def to_json(verdicts: list[Verdict], as_of: dt.datetime) -> dict[str, Any]:
    counts = {k: sum(v.verdict == k for v in verdicts) for k in ("supported", "contradicted", "unverifiable")}
    return {"as_of": iso(as_of), "counts": counts, "verdicts": [v.model_dump(mode="json") for v in verdicts]}


def to_markdown(verdicts: list[Verdict], as_of: dt.datetime) -> str:
    counts = to_json(verdicts, as_of)["counts"]
    lines = [f"# Claim check as of {iso(as_of)}", "",
             f"{counts['supported']} supported, {counts['contradicted']} contradicted, "
             f"{counts['unverifiable']} unverifiable.", "",
             "| claim | finding | claimed | computed | difference | verdict | reason |",
             "|---|---|---:|---:|---:|---|---|"]
    for v in verdicts:
        lines.append(f"| {v.claim_id} | {_md((v.finding or {}).get('id', ''))} | {_md(_show(v.claimed, v.unit))} | "
                     f"{_md(_show(v.computed, v.unit))} | {_md(_diff(v))} | **{v.verdict}** | {_md(v.reason)} |")
    return "\n".join(lines) + "\n"


def _md(s: str) -> str:
    return str(s).replace("|", "\\|").replace("\n", " ")


def _show(v: Any, unit: str) -> str:
    if v is None:
        return "—"
    if isinstance(v, (int, float)) and not isinstance(v, bool):
        return _fmt(v, "USD" if unit.upper() == "USD" else unit)
    if isinstance(v, list):
        return ", ".join(map(str, v[:4])) + (" …" if len(v) > 4 else "")
    return str(v)


def _diff(v: Verdict) -> str:
    if v.difference is None:
        return ""
    if v.unit == "pct":
        return f"{v.difference:+.2f} pp"
    out = _fmt(v.difference, "USD" if v.unit.upper() == "USD" else v.unit)
    if v.difference > 0:
        out = "+" + out
    return out + (f" ({v.difference_pct:+.1f}%)" if v.difference_pct is not None else "")
