"""The area registry: each force (price, market, miners, ETFs, leverage, treasuries, scenario) declares
itself once, here, and everything that needs to know the forces reads this registry.

An area is declared by one module (`btcstress/areas/<name>.py`, or any importable package) that
defines `AREA = Area(...)`, and registered by one line in `REGISTERED` below (or, for an area that
lives outside btcstress, one call to `register("pkg.module")`). The declaration names the code (the
metrics module, the brief section, the claim rules) by module path; loading the registry imports
all of it and checks it, so a missing or broken area is an error at start (`AreaError`), never a
silent skip.

Readers: `metrics.compute` (which areas run, in which order, and their chart series), the brief
(sections and the "Why it fell" forces), the claim checker (which areas a claim needs, per-area claim
rules), the monitor (which live source dirties which area, which areas move with the price), the
connectors (the periodic pulls) and the API.

The API (small on purpose):

    from btcstress import areas
    areas.all()                 # tuple[Area, ...] in computing order (an area reads only earlier ones)
    areas.names()               # ("price", "market", ...)
    areas.get("etf")            # one Area; AreaError names the known ones
    areas.of_finding("liquidations.total_usd")   # the Area that emits an id (by its first segment), or None
    areas.closure(["treasuries"])                # ("price", "treasuries"): with every area it reads
    areas.for_source("binance") # areas a live source feeds: ("price", "market", "leverage")
    areas.pulls()               # the periodic REST connectors, in area order: ("binance", "mempool", ...)
    areas.catalogue()           # {finding id: (FindingSpec(id, unit, subjects, definition, kind), Area)}
    areas.finding("etf.net_flow_usd")            # one FindingSpec, or None for an id no area declares
    areas.register("my.area")   # add an area declared outside btcstress (its module defines AREA)

An `Area`'s fields are documented on the class. `Area.module()` / `Area.section_module()` /
`Area.claim_rules_module()` return the imported modules.
"""

from __future__ import annotations

import functools
import importlib
from dataclasses import dataclass
from types import ModuleType

from btcstress.errors import BtcstressError

# The areas, in computing order: one line each. An area may read the findings of those above it.
REGISTERED: list[str] = [
    "btcstress.areas.price",
    "btcstress.areas.market",
    "btcstress.areas.miners",
    "btcstress.areas.etf",
    "btcstress.areas.leverage",
    "btcstress.areas.treasuries",
    "btcstress.areas.stress",
    "btcstress.areas.scenario",
]


@dataclass(frozen=True)
class FindingSpec:
    """One finding id in the catalogue: its unit, what it is about, and what it is, in one line.

    kind: computed, modelled or cited ("computed/modelled" when it depends on the inputs).
    Declared in its area's `findings`; docs/METRICS.md's catalogue table is generated from these
    (`python -m btcstress.areas`) and a test keeps the two, and the metric code, in step.
    """

    id: str
    unit: str
    subjects: str
    definition: str
    kind: str = "computed"


class AreaError(BtcstressError):
    """An area is missing, broken or declared inconsistently (a programming error: exit code 1)."""
    exit_code = 1


@dataclass(frozen=True)
class Area:
    """One force, declared once.

    name: the area's name (also its parameter namespace: `--param name.x=...`).
    title: how people call it ("ETF flows").
    prefixes: the first segments of the finding ids it emits (`leverage` emits `liquidations.*` and
        `derivatives.*`); no two areas share a prefix.
    metrics: module with `findings(ctx) -> list[Finding]` and, optionally, `series(ctx) -> list[Series]`.
    section: module of its brief section, `build(fs) -> Section | None` and optionally `highlights(fs)`.
    section_order: where its section goes in the brief: sections are sorted by (section_order,
        registry order), so the default 0 keeps the registry's order and -1 leads the brief.
    charts: whether `metrics` has `series(ctx)` (chart series, named `<name or prefix>.<what>`; a name
        outside the area's namespace is an error when it is drawn).
    priced: its findings value things at the observed price (`ctx.price()`): it needs the price area
        first and changes when the price does (the monitor recomputes it; `--price` re-values it).
    requires: the other areas whose findings it reads from `ctx.findings` (each registered above it).
    pulls: the periodic REST connectors that feed it (`connectors/<name>.py`, `ingest live --sources`).
    streams: the live streams that feed it (`liquidations`: the exchanges' websocket feeds).
    monitored: whether monitor rules may watch its findings (False for hypothetical findings).
    force: its name in the brief's "Why it fell", or None when it is not one of the forces.
    pressure: the (finding id, subject or None) that measure its pressure on the price, for "Why it fell".
    claim_rules: module with `RULES`, this area's `ClaimRule`s for the claim checker (btcstress/claims/rules.py),
        next to its metrics (`metrics/<area>_claims.py`), or None.
    findings: the catalogue of every finding id it emits (FindingSpec), under its prefixes.
    """

    name: str
    title: str
    prefixes: tuple[str, ...]
    metrics: str
    section: str | None = None
    section_order: int = 0
    charts: bool = False
    priced: bool = False
    requires: tuple[str, ...] = ()
    pulls: tuple[str, ...] = ()
    streams: tuple[str, ...] = ()
    monitored: bool = True
    force: str | None = None
    pressure: tuple[tuple[str, str | None], ...] = ()
    claim_rules: str | None = None
    findings: tuple[FindingSpec, ...] = ()

    def module(self) -> ModuleType:
        """The metrics module (imported once the registry has loaded and checked it)."""
        return importlib.import_module(self.metrics)

    def section_module(self) -> ModuleType | None:
        return importlib.import_module(self.section) if self.section else None

    def claim_rules_module(self) -> ModuleType | None:
        return importlib.import_module(self.claim_rules) if self.claim_rules else None

    def owns_series(self, name: str) -> bool:
        """Whether a chart series name is in this area's namespace (`leverage.x`, `treasury.x`)."""
        return name.split(".", 1)[0] in (self.name, *self.prefixes)

    @property
    def reads(self) -> tuple[str, ...]:
        """Every area it reads: `requires`, plus price when it is priced."""
        return tuple(dict.fromkeys((("price",) if self.priced and self.name != "price" else ()) + self.requires))


def register(module: str) -> None:
    """Add the area declared by `module` (it defines `AREA`) after the registered ones; checked at once."""
    if module not in REGISTERED:
        REGISTERED.append(module)
    _load.cache_clear()
    try:
        _load()
    except AreaError:
        REGISTERED.remove(module)
        _load.cache_clear()
        raise


def unregister(module: str) -> None:
    """Remove an area added with `register` (tests use it to leave the registry as they found it)."""
    REGISTERED.remove(module)
    _load.cache_clear()


def _import(path: str, what: str) -> ModuleType:
    try:
        return importlib.import_module(path)
    except Exception as exc:  # noqa: BLE001 - any failure to import an area is the same error, named
        raise AreaError(f"{what}: cannot import {path} ({type(exc).__name__}: {exc})") from exc


def _check(area: Area, before: dict[str, Area], where: str) -> None:
    """Refuse a declaration the rest of btcstress could not rely on."""
    problems = []
    if area.name in before:
        problems.append(f"area {area.name!r} is registered twice")
    taken = {p: a.name for a in before.values() for p in a.prefixes}
    problems += [f"prefix {p!r} is already emitted by the {taken[p]} area" for p in area.prefixes if p in taken]
    if not area.prefixes:
        problems.append("no finding-id prefixes")
    problems += [f"requires {r!r}, which is not registered above it" for r in area.reads if r not in before]
    mod = _import(area.metrics, f"area {area.name} ({where}): metrics")
    if not callable(getattr(mod, "findings", None)):
        problems.append(f"{area.metrics} has no findings(ctx)")
    if area.charts and not callable(getattr(mod, "series", None)):
        problems.append(f"{area.metrics} has no series(ctx), but the area declares charts")
    if area.section:
        sec = _import(area.section, f"area {area.name} ({where}): brief section")
        if not callable(getattr(sec, "build", None)):
            problems.append(f"{area.section} has no build(fs)")
    if area.claim_rules:
        rules = _import(area.claim_rules, f"area {area.name} ({where}): claim rules")
        from btcstress.claims.rules import ClaimRule
        if not isinstance(getattr(rules, "RULES", None), (list, tuple)):
            problems.append(f"{area.claim_rules} has no RULES list")
        else:
            problems += [f"{area.claim_rules}: {r!r} is not a ClaimRule" for r in rules.RULES
                         if not isinstance(r, ClaimRule)]
            problems += [f"{area.claim_rules}: rule for {i!r} is outside the area's prefixes {list(area.prefixes)}"
                         for r in rules.RULES if isinstance(r, ClaimRule)
                         for i in (*r.ids, *r.aliases) if i.split(".", 1)[0] not in area.prefixes]
    if bool(area.force) != bool(area.pressure):
        problems.append("force and pressure go together (a force is ranked by its pressure findings)")
    ids = [f.id for f in area.findings]
    problems += [f"finding {i!r} is declared twice" for i in sorted({i for i in ids if ids.count(i) > 1})]
    problems += [f"finding {i!r} is not under its prefixes {list(area.prefixes)}"
                 for i in ids if i.split(".", 1)[0] not in area.prefixes]
    problems += [f"pressure finding {fid!r} is not in its findings" for fid, _ in area.pressure if fid not in ids]
    if problems:
        raise AreaError(f"area {area.name} ({where}): " + "; ".join(problems))


@functools.cache
def _load() -> tuple[Area, ...]:
    loaded: dict[str, Area] = {}
    for path in REGISTERED:
        decl = getattr(_import(path, "area declaration"), "AREA", None)
        if not isinstance(decl, Area):
            raise AreaError(f"area declaration {path} defines no AREA = Area(...)")
        _check(decl, loaded, path)
        loaded[decl.name] = decl
    return tuple(loaded.values())


def all() -> tuple[Area, ...]:  # noqa: A001 - `areas.all()` reads as what it is
    """Every registered area, in computing order; raises AreaError when one is missing or broken."""
    return _load()


def names() -> tuple[str, ...]:
    return tuple(a.name for a in _load())


def get(name: str) -> Area:
    for a in _load():
        if a.name == name:
            return a
    raise AreaError(f"unknown area {name!r}; known: {', '.join(names())}")


def of_finding(finding_id: str) -> Area | None:
    """The area that emits `finding_id` (by its first segment), or None for an id no area emits."""
    prefix = finding_id.split(".", 1)[0]
    return next((a for a in _load() if prefix in a.prefixes), None)


def closure(wanted) -> tuple[str, ...]:
    """`wanted` area names with every area they read (transitively), in computing order."""
    need: set[str] = set()
    todo = list(wanted)
    while todo:
        a = get(todo.pop())
        if a.name not in need:
            need.add(a.name)
            todo += list(a.reads)
    return tuple(n for n in names() if n in need)


def for_source(source: str) -> tuple[str, ...]:
    """The areas a live source (a pull's or a stream's name) feeds, in computing order."""
    return tuple(a.name for a in _load() if source in a.pulls or source in a.streams)


def catalogue() -> dict[str, tuple[FindingSpec, Area]]:
    """{finding id: (its FindingSpec, the Area that emits it)} for every declared id, in area order."""
    return {f.id: (f, a) for a in _load() for f in a.findings}


def catalogue_rows() -> list[dict]:
    """The catalogue as plain rows (id, area, unit, kind, subjects, definition), in area order: what
    `btcstress ids`, the MCP `ids` tool and anyone scripting against the ids read."""
    return [{"id": fid, "area": a.name, "unit": f.unit, "kind": f.kind, "subjects": f.subjects,
             "definition": f.definition} for fid, (f, a) in catalogue().items()]


def finding(finding_id: str) -> FindingSpec | None:
    """The catalogue entry of `finding_id`, or None when no area declares it."""
    got = catalogue().get(finding_id)
    return got[0] if got else None


def markdown() -> str:
    """The catalogue as the Markdown table docs/METRICS.md carries (generated, checked by a test)."""
    rows = ["| id | unit | subjects | kind | area | definition |", "|---|---|---|---|---|---|"]
    for fid, (f, a) in catalogue().items():
        cells = [f"`{fid}`", f.unit, f.subjects, f.kind, a.name, f.definition]
        rows.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
    return "\n".join(rows) + "\n"


def pulls() -> tuple[str, ...]:
    """The periodic REST connectors every area's pulls name, in area order, each once."""
    return tuple(dict.fromkeys(p for a in _load() for p in a.pulls))


def priced() -> tuple[str, ...]:
    """The monitored areas that move with the price (recomputed when it changes)."""
    return tuple(a.name for a in _load() if a.priced and a.monitored and a.name != "price")


__all__ = ["Area", "AreaError", "FindingSpec", "REGISTERED", "all", "catalogue", "catalogue_rows", "closure", "finding", "for_source",
           "get", "markdown", "names", "of_finding", "priced", "pulls", "register", "unregister"]
