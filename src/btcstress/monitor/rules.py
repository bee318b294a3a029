"""Alert rules: the YAML file, its validation against the finding catalogue, and when a rule holds."""

from __future__ import annotations

import math
import operator
import re
from pathlib import Path
from typing import Any, Callable, Literal

from pydantic import BaseModel, ConfigDict, ValidationError, field_validator

from btcstress import areas as registry
from btcstress.config import read_yaml
from btcstress.errors import InputError
from btcstress.findings import Finding

OPS: dict[str, Callable[[float, float], bool]] = {">": operator.gt, "<": operator.lt, ">=": operator.ge,
                                                  "<=": operator.le}
# Which area computes a finding, which areas move with the price (`priced`) and which live source
# dirties which area all come from the area registry (btcstress.areas).


def area_of(finding_id: str) -> str | None:
    """The monitored area that emits `finding_id` (by its first segment), or None."""
    a = registry.of_finding(finding_id)
    return a.name if a is not None and a.monitored else None


# -- rules ----------------------------------------------------------------------------------------

_DURATION = re.compile(r"^\s*\d+(?:\.\d+)?\s*[smhd]?\s*$")  # what the rules file documents; pandas parses it


class Rule(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str
    finding: str
    subject: str | None = None
    window: str | None = None
    op: Literal[">", "<", ">=", "<="]
    value: float
    cooldown: float = 0.0  # seconds

    @field_validator("cooldown", mode="before")
    @classmethod
    def _duration(cls, v: Any) -> float:
        if v is None:
            return 0.0
        if isinstance(v, (int, float)):
            if v < 0:
                raise ValueError("cooldown must be >= 0")
            return float(v)
        text = str(v).strip()
        if not _DURATION.match(text):
            raise ValueError(f"cooldown {v!r}: expected seconds or e.g. 30s, 15m, 2h, 1d")
        import pandas as pd
        return pd.Timedelta(text if text[-1].isalpha() else text + "s").total_seconds()

    @property
    def area(self) -> str | None:
        return area_of(self.finding)

    def matches(self, f: Finding) -> bool:
        return (f.id == self.finding and f.kind != "cited" and (self.subject is None or f.subject == self.subject)
                and (self.window is None or f.window.startswith(self.window))
                and isinstance(f.value, (int, float)) and not isinstance(f.value, bool) and math.isfinite(f.value))

    def holds(self, value: float) -> bool:
        return OPS[self.op](float(value), self.value)


def load_rules(path: Path | str) -> list[Rule]:
    p = Path(path)
    data = read_yaml(p, "rules file")
    if isinstance(data, dict):
        data = data.get("rules")
    if not isinstance(data, list) or not data:
        raise InputError(f"rules file {p}: expected a list of rules (or `rules:` holding one)")
    rules = []
    for i, item in enumerate(data, start=1):
        try:
            rules.append(Rule.model_validate(item))
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(x) for x in first["loc"]) or "rule"
            raise InputError(f"rules file {p}: rule {i}: {where}: {first['msg']}") from None
    names = [r.name for r in rules]
    dup = sorted({n for n in names if names.count(n) > 1})
    if dup:
        raise InputError(f"rules file {p}: duplicate rule name(s) {dup}")
    validate(rules, where=f"rules file {p}")
    return rules


def validate(rules: list[Rule], *, where: str = "rules") -> None:
    """Every rule's finding must be an id in the finding catalogue (btcstress.areas: declared by the
    area that computes it, checked against the metric code by tests/test_catalogue.py) and one the
    monitor recomputes: a typo under a valid prefix would otherwise never fire."""
    from btcstress.envelope import did_you_mean
    known = {i: a.name for i, (_, a) in registry.catalogue().items() if area_of(i) is not None}
    problems = []
    for n, r in enumerate(rules, start=1):
        if r.finding not in known:
            area = area_of(r.finding)
            what = (f"no metric area computes {r.finding!r}" if area is None else
                    f"the {area} area emits no finding {r.finding!r}")
            problems.append(f"rule {n} ({r.name}): {what}{did_you_mean(r.finding, known)}")
    if problems:
        raise InputError(f"{where}: " + "; ".join(problems) + " (`btcstress ids` lists the finding ids)")
