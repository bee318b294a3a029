"""Response and request models (they document the API; most handlers return pre-serialized JSON)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from btcstress.findings import Finding, Series


class FindingsResponse(BaseModel):
    """The envelope shared with `btcstress findings --json` and the MCP server (btcstress.envelope)."""
    as_of: str
    as_of_basis: str = Field("given", description="'given', or 'latest data' when no as_of was asked for")
    price: float | None = Field(None, description="the hypothetical price the findings were re-valued at, if any")
    count: int
    findings: list[Finding]
    served: dict[str, str] | None = Field(None, description="per area: 'stored (finding_history, fresh through "
                                          "<watermark>)' or 'computed (<why>)' (GET /findings)")


class SeriesResponse(BaseModel):
    as_of: str
    series: Series


class ScenarioResponse(BaseModel):
    as_of: str
    price: float = Field(description="the scenario price (given, or price.last_usd moved by the shock)")
    shock_pct: float | None = None
    observed_price: float
    count: int
    findings: list[Finding]


class Health(BaseModel):
    status: str
    store: str
    data: dict[str, Any]
    cache: dict[str, Any]
    writes: bool
    endpoints: list[str]


class CitationIn(BaseModel):
    finding: str = Field(..., description="finding id, e.g. liquidations.total_usd")
    subject: str
    value: str = Field(..., description="the number as reported, e.g. 2.65e9")
    unit: str | None = None
    as_of: str
    window: str | None = None
    source: str
    url: str | None = None
    note: str | None = None
