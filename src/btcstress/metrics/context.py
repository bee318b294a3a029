"""What a metric sees: the store cut at an as-of instant, its parameters, and earlier findings."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

import ibis
import pandas as pd

from btcstress.errors import NoDataError
from btcstress.findings import Finding, Source
from btcstress.store import Store, utc_naive


@dataclass
class Context:
    store: Store
    as_of: dt.datetime
    params: dict[str, dict[str, Any]] = field(default_factory=dict)  # overrides by area
    price_override: float | None = None
    # The computation also draws the chart series (`metrics.compute(with_series=True)`): an area whose
    # findings and series read the same frame may then build it once for both (stress).
    with_series: bool = False
    findings: list[Finding] = field(default_factory=list)
    params_used: dict[str, dict[str, Any]] = field(default_factory=dict)
    # Set by the price area as soon as it knows price.last_usd, so its later findings and every
    # later area value things at the same observed price.
    observed_price: Finding | None = None
    _tables: dict[str, ibis.Table] = field(default_factory=dict, repr=False)
    _exprs: dict[tuple, Any] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        if self.as_of.tzinfo is None:
            self.as_of = self.as_of.replace(tzinfo=dt.timezone.utc)
        self.as_of = self.as_of.astimezone(dt.timezone.utc)

    @property
    def as_of_naive(self) -> dt.datetime:
        """`as_of` (timezone-aware UTC, what findings carry) in the store's convention: naive UTC, for
        comparing with stored timestamps (`available_at`, `open_time`)."""
        return utc_naive(self.as_of)

    def table(self, name: str) -> ibis.Table:
        """The table as known at as_of (rows with available_at <= as_of). One expression per table and
        instant: the areas' queries then share its node (cheaper to build, hash and compare)."""
        t = self._tables.get(name)
        if t is None:
            t = self._tables[name] = self.store.table(name, self.as_of)
        return t

    def reuse(self, key: tuple, build) -> Any:
        """`build()` once per computation for `key` (an expression several findings or areas read, such
        as a market's quality-cleaned bars): cheaper to build once, and its queries share the node."""
        if key not in self._exprs:
            self._exprs[key] = build()
        return self._exprs[key]

    def area_params(self, area: str, defaults: dict[str, Any]) -> dict[str, Any]:
        """Defaults overridden by config/CLI; unknown names are an error, not ignored."""
        given = self.params.get(area, {})
        unknown = set(given) - set(defaults)
        if unknown:
            from btcstress.errors import InputError
            raise InputError(f"unknown {area} parameter(s) {sorted(unknown)}; known: {sorted(defaults)}")
        for name, v in given.items():
            check_param_type(area, name, v, defaults[name])
        merged = {**defaults, **given}
        self.params_used[area] = merged
        return merged

    def finding(self, id: str, subject: str | None = None) -> Finding | None:
        for f in self.findings:
            if f.id == id and (subject is None or f.subject == subject):
                return f
        return None

    def price(self) -> tuple[float | None, bool, Finding | None]:
        """(price to value things at, whether it is hypothetical, the observed price finding)."""
        observed = self.observed_price or self.finding("price.last_usd")
        if self.price_override is not None:
            return self.price_override, True, observed
        return (observed.value if observed else None), False, observed

    def require_data(self) -> None:
        """Fail clearly when nothing at all is known by as_of (before the data or an empty store)."""
        c = self.store.table("candles")
        span = c.aggregate(first=c.open_time.min(), last=c.available_at.max()).execute().iloc[0]
        first, last = span["first"], span["last"]
        if first is None or pd.isna(first):
            raise NoDataError("the store holds no price data: run `btcstress ingest snapshot` first")
        if self.as_of_naive < pd.Timestamp(first).to_pydatetime():
            raise NoDataError(f"no price data before {pd.Timestamp(first).date()}")
        if self.as_of_naive > pd.Timestamp(last).to_pydatetime() + dt.timedelta(days=2):
            raise NoDataError(f"no price data after {pd.Timestamp(last).date()}")


def source(table: str, df: pd.DataFrame, *, time_col: str, origin: str | None = None, note: str | None = None
           ) -> Source:
    """Provenance of the rows in `df` (which must carry an `origin` column unless given)."""
    if origin is None:
        origins = sorted(set(df["origin"])) if "origin" in df and len(df) else []
        origin = ", ".join(origins) if origins else "-"
    first = pd.Timestamp(df[time_col].min()).to_pydatetime() if len(df) else None
    last = pd.Timestamp(df[time_col].max()).to_pydatetime() if len(df) else None
    return Source(table=table, origin=origin, rows=len(df), first=first, last=last, note=note)


def check_param_type(area: str, name: str, value: Any, default: Any) -> None:
    """An override must be what its default is: a finite number for a number, a yes/no for a flag,
    text for text, a list for a list (`--param miners.power_price_usd_kwh=abc` is an error, exit 2)."""
    import math

    from btcstress.errors import InputError
    if isinstance(default, bool):
        ok = isinstance(value, bool)
        want = "true or false"
    elif isinstance(default, (int, float)):
        ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
        want = "a finite number"
    elif isinstance(default, str):
        ok = isinstance(value, str)
        want = "text"
    elif isinstance(default, (list, tuple)):
        ok = isinstance(value, (list, tuple))
        want = "a list"
    elif isinstance(default, dict):
        ok = isinstance(value, dict)
        want = "a mapping"
    else:
        return
    if not ok:
        raise InputError(f"parameter {area}.{name} = {str(value)[:40]!r}: expected {want} (default {default!r})")
