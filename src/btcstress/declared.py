"""What the metric code declares: every finding id it can emit, and every model parameter with its
default and the source each default is taken from.

The defaults live with the metric that uses them (`DEFAULTS` in each metrics module, the scenario's
in scenario/params.py), and their sources are the comments written beside them there. This module
reads those comments from the source with `ast` (no library documents a dict literal's keys), so the
catalogue cannot drift from the code: `btcstress params` and the MCP `params` tool print it.

Finding ids are read the same way: every string literal shaped like an id (`etf.flow_usd`) in an
area's module (and the scenario package), less chart series names (`name=` of a Series). A finding id
is a public contract, so each is written out once in the metric that emits it; this finds them all
without running the metrics (a fresh store emits no per-fund or per-company findings), which the
monitor needs to validate rule ids before any data arrives.
"""

from __future__ import annotations

import ast
import functools
import importlib
import inspect
import pkgutil
import re
from typing import Any

from btcstress.errors import InputError

# Where each area's DEFAULTS dict literal is written (the scenario area re-exports its own).
_DEFAULTS_MODULE = {"scenario": "btcstress.scenario.params", "stress": "btcstress.stress.params"}


def _comments(lines: list[str], first: int, last: int) -> str:
    """The `#` comment block right above line `first` and the trailing comments on lines first..last
    (1-based), joined as one sentence."""
    above = []
    i = first - 2
    while i >= 0 and lines[i].strip().startswith("#"):
        above.insert(0, lines[i].strip().lstrip("#").strip())
        i -= 1
    if any(t.startswith("--") for t in above):  # a section rule ("-- the simulated book --") is not a source
        above = [t for t in above if not t.startswith("--")]
    trailing = []
    for line in lines[first - 1:last]:
        code, sep, comment = line.partition("  #")
        if sep:
            trailing.append(comment.strip())
    return " ".join(above + trailing).strip()


@functools.cache
def catalogue() -> tuple[dict[str, Any], ...]:
    """({area, name, default, source}, ...) for every parameter of every area, in area order."""
    from btcstress import areas as registry
    out: list[dict[str, Any]] = []
    for a in registry.all():
        area, mod = a.name, a.module()
        defaults = getattr(mod, "DEFAULTS", None)
        if not isinstance(defaults, dict):
            continue
        where = importlib.import_module(_DEFAULTS_MODULE.get(area, mod.__name__))
        lines = inspect.getsource(where).splitlines()
        keys: dict[str, tuple[int, int]] = {}
        for node in ast.walk(ast.parse("\n".join(lines))):
            target = node.targets[0] if isinstance(node, ast.Assign) else getattr(node, "target", None)
            if isinstance(target, ast.Name) and target.id == "DEFAULTS" and isinstance(node.value, ast.Dict):
                for k, v in zip(node.value.keys, node.value.values):
                    if isinstance(k, ast.Constant):
                        keys[k.value] = (k.lineno, v.end_lineno or k.lineno)
        prev_last, prev_source = -1, ""
        explicit = getattr(mod, "PARAM_SOURCES", {})  # an area whose defaults are assembled, not a literal
        for name, default in defaults.items():
            first, last = keys.get(name, (0, 0))
            source = explicit.get(name) or (_comments(lines, first, last) if first else "")
            if not source and first == prev_last + 1:  # a key right under another shares its comment
                source = prev_source
            prev_last, prev_source = last, source
            out.append({"area": area, "name": name, "default": default,
                        "source": source or f"modelling choice, see docs/METRICS.md ({where.__name__})"})
    return tuple(out)


def areas() -> list[str]:
    return sorted({p["area"] for p in catalogue()})


def check(params: dict[str, dict[str, Any]]) -> None:
    """Refuse an unknown area or parameter name, naming the nearest known ones."""
    from btcstress.envelope import did_you_mean
    known = {}
    for p in catalogue():
        known.setdefault(p["area"], set()).add(p["name"])
    problems = []
    for area, given in params.items():
        if area not in known:
            problems.append(f"unknown parameter area {area!r}{did_you_mean(area, known)}")
            continue
        for name in given:
            if name not in known[area]:
                problems.append(f"unknown parameter {area}.{name}{did_you_mean(name, known[area])}")
    if problems:
        raise InputError("; ".join(problems) + " (`btcstress params` lists them)")


_ID = re.compile(r"^[a-z]+(\.[a-z0-9_]+)+$")  # two or more parts: stress.component.price


@functools.cache
def finding_ids() -> dict[str, str]:
    """{finding id: the area that emits it} for every id the metric code can emit."""
    from btcstress import areas as registry
    mods = [(a.name, a.module()) for a in registry.all()]
    # An area split into helper modules (metrics/miners_flows.py, ...) emits their ids too.
    for a in registry.all():
        package, _, leaf = a.metrics.rpartition(".")
        pkg = importlib.import_module(package) if package else None
        if pkg is not None and hasattr(pkg, "__path__"):
            mods += [(a.name, importlib.import_module(f"{package}.{info.name}"))
                     for info in pkgutil.iter_modules(pkg.__path__)
                     if info.name.startswith(leaf + "_") and info.name != leaf + "_claims"]
    # (an area's claim rules, metrics/<area>_claims.py, name ids and aliases a claim may use; they emit none)
    out: dict[str, str] = {}
    for area, mod in mods:
        tree = ast.parse(inspect.getsource(mod))
        series = {n.value.value for n in ast.walk(tree)
                  if isinstance(n, ast.keyword) and n.arg == "name" and isinstance(n.value, ast.Constant)}
        prefixes = set(registry.get(area).prefixes)
        for n in ast.walk(tree):
            if (isinstance(n, ast.Constant) and isinstance(n.value, str) and _ID.match(n.value)
                    and n.value.split(".", 1)[0] in prefixes and n.value not in series):
                out.setdefault(n.value, area)
    return dict(sorted(out.items()))
