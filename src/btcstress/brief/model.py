"""The brief as data: sections of text, tables and charts whose numbers point at findings.

Section builders (brief/sections/<area>.py, `build(fs) -> Section | None`) choose words and
formatting; they never compute. Renderers (render.py) turn a Brief into Markdown, HTML and JSON,
and give every number its finding's source, method and as-of (hover in HTML, footnotes in Markdown).
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Union

from pydantic import BaseModel, Field

from btcstress.findings import Finding, Source


class Ref(BaseModel):
    """A number in the text, as printed, and the finding it comes from."""

    text: str
    finding: Finding


Fragment = Union[str, Ref]


class Paragraph(BaseModel):
    parts: list[Fragment]

    @classmethod
    def of(cls, *parts: Fragment) -> "Paragraph":
        return cls(parts=list(parts))


class TableBlock(BaseModel):
    caption: str = ""
    columns: list[str]
    rows: list[list[Fragment]]
    align: list[str] = Field(default_factory=list)  # "l" or "r" per column


class Chart(BaseModel):
    id: str
    title: str
    figure: dict[str, Any]  # a Plotly figure as JSON (data + layout)
    caption: str = ""
    sources: list[Source] = Field(default_factory=list)
    height: int = 320


class Section(BaseModel):
    id: str
    title: str
    paragraphs: list[Paragraph] = Field(default_factory=list)
    tables: list[TableBlock] = Field(default_factory=list)
    charts: list[Chart] = Field(default_factory=list)
    notes: list[Paragraph] = Field(default_factory=list)  # small print: caveats, coverage


class DatasetUse(BaseModel):
    """A dataset the brief used and how much of it."""

    table: str
    origin: str
    rows: int
    first: dt.datetime | None = None
    last: dt.datetime | None = None


class Brief(BaseModel):
    title: str
    as_of: dt.datetime
    headline: Paragraph
    highlights: list[Paragraph]
    sections: list[Section]
    datasets: list[DatasetUse]
    findings: list[Finding]
    price_override: float | None = None
    # Where the findings came from: "stored snapshot (code ..., watermark ...)" or "computed (why)"
    # (history/snapshots.py); in the JSON only, so the Markdown and HTML read the same either way.
    served: str | None = None
