"""Findings: every number btcstress reports, with its provenance.

A finding is the only thing outputs (brief, API, alerts, claim checker) may render. Metrics create
them; nothing downstream computes.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_serializer, model_validator

Kind = Literal["computed", "modelled", "cited"]


class Source(BaseModel):
    """Which rows of which table a finding was computed from."""

    model_config = ConfigDict(frozen=True)

    table: str
    origin: str  # importer and file or URL the rows came from
    rows: int
    first: dt.datetime | None = None
    last: dt.datetime | None = None
    note: str | None = None  # e.g. "lower bound: Binance pushes one liquidation per symbol per second"

    @field_serializer("first", "last")
    def _ts(self, v: dt.datetime | None) -> str | None:
        return iso(v) if v is not None else None


class Finding(BaseModel):
    """One number (or date, or list) with everything needed to trust it."""

    id: str  # dotted, stable, public: "price.low_24h_usd"
    subject: str = "BTC"  # BTC, a fund ticker, an entity, a venue, "crypto"
    value: Any = None  # None when not available; see `note`
    unit: str = ""  # USD, pct, BTC, date, events, index, ...
    as_of: dt.datetime
    window: str = ""  # "24h", "1d:2026-02-05", "all", ...
    kind: Kind = "computed"
    method: str = ""  # the formula in words
    params: dict[str, Any] = Field(default_factory=dict)
    sources: list[Source] = Field(default_factory=list)
    detail: dict[str, Any] = Field(default_factory=dict)  # extra facts: dates, venues, components
    note: str | None = None  # "not available: ..." or a caveat the reader must see
    hypothetical: bool = False  # re-valued at a price the user chose, not observed
    # How unusual the value is against its own history, when the metric can say (for highlights).
    unusual: dict[str, Any] | None = None

    @model_validator(mode="after")
    def _dedupe_sources(self) -> "Finding":
        unique = list(dict.fromkeys(self.sources))  # Source is frozen, hence hashable
        if len(unique) != len(self.sources):
            self.sources = unique
        return self

    @field_serializer("as_of")
    def _as_of(self, v: dt.datetime) -> str:
        return iso(v)

    @property
    def available(self) -> bool:
        return self.value is not None


def not_available(id: str, as_of: dt.datetime, reason: str, *, subject: str = "BTC", unit: str = "",
                  window: str = "", method: str = "", kind: Kind = "computed") -> Finding:
    """A finding that says plainly that the data does not cover it."""
    return Finding(id=id, subject=subject, value=None, unit=unit, as_of=as_of, window=window,
                   kind=kind, method=method, note=f"not available: {reason}")


class Series(BaseModel):
    """A time series for a chart, with the same provenance a finding carries."""

    name: str  # "price.daily_close_180d"
    title: str
    unit: str
    x: list[Any]  # ISO timestamps or dates
    y: list[Any]
    sources: list[Source] = Field(default_factory=list)
    extra: dict[str, Any] = Field(default_factory=dict)  # other columns (low, high, markers)


class FindingSet:
    """The findings as of one instant, looked up by id, subject and window.

    One id may have several findings for a subject (a 1 d and a 7 d change, a computed value and a
    cited one). `get` returns the first emitted match, computed or modelled before cited: each area
    emits its primary window first, and `window=` (a prefix: "7d", "24h") picks another.
    """

    def __init__(self, as_of: dt.datetime, findings: list[Finding], series: dict[str, Series] | None = None,
                 params: dict[str, Any] | None = None):
        self.as_of = as_of
        self.findings = findings
        self.series = series or {}
        self.params = params or {}
        # How this set was obtained, when a reader may have taken it from the store instead of computing it
        # ("stored snapshot (...)" or "computed (why)": history/snapshots.py); None: computed, nothing said.
        self.served: str | None = None

    def get(self, id: str, subject: str | None = None, *, window: str | None = None,
            kind: str | None = None) -> Finding | None:
        matches = [f for f in self.findings if f.id == id and (subject is None or f.subject == subject)
                   and (window is None or f.window.startswith(window)) and (kind is None or f.kind == kind)]
        if kind is None:
            matches.sort(key=lambda f: f.kind == "cited")  # stable: emission order otherwise
        return matches[0] if matches else None

    def all(self, id: str) -> list[Finding]:
        return [f for f in self.findings if f.id == id]

    def value(self, id: str, subject: str | None = None, *, window: str | None = None) -> Any:
        f = self.get(id, subject, window=window)
        return f.value if f is not None else None

    def __iter__(self):
        return iter(self.findings)

    def __len__(self) -> int:
        return len(self.findings)

    def to_json(self) -> list[dict[str, Any]]:
        return [f.model_dump(mode="json") for f in self.findings]


def iso(ts: dt.datetime | dt.date) -> str:
    """UTC ISO-8601 with a Z, the one timestamp format btcstress prints."""
    if isinstance(ts, dt.datetime):
        if ts.tzinfo is None:
            ts = ts.replace(tzinfo=dt.timezone.utc)
        return ts.astimezone(dt.timezone.utc).isoformat().replace("+00:00", "Z")
    return ts.isoformat()
