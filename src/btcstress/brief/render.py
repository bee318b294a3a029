"""Render a Brief as Markdown, self-contained HTML (Plotly inline, works offline) and JSON.

Every number in the text is a Ref to a finding: HTML shows its source, method and as-of on hover
and in numbered notes; Markdown uses footnotes. Templates only place text; they never compute.
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

from jinja2 import Environment, PackageLoader, select_autoescape
from markupsafe import Markup, escape

from btcstress.brief.fmt import NA
from btcstress.brief.model import Brief, Paragraph, Ref
from btcstress.findings import Finding, iso


class Notes:
    """Numbers footnotes by finding, in order of first mention."""

    def __init__(self) -> None:
        self.order: list[Finding] = []
        self._index: dict[tuple[str, str, str, str, bool], int] = {}

    def number(self, f: Finding) -> int:
        # window and kind too: one id/subject can have several windows (1d and 7d change) or a cited twin
        key = (f.id, f.subject, f.window, f.kind, f.hypothetical)
        if key not in self._index:
            self.order.append(f)
            self._index[key] = len(self.order)
        return self._index[key]


def provenance(f: Finding) -> str:
    """One line: what the number is, how it was made, from what, as of when."""
    srcs = "; ".join(f"{s.table} {s.origin} ({s.rows} rows"
                     + (f", {iso(s.first)[:10]}..{iso(s.last)[:10]}" if s.first and s.last else "") + ")"
                     + (f" [{s.note}]" if s.note else "") for s in f.sources)
    parts = [f"{f.id} ({f.subject})", f"{f.kind}{', hypothetical' if f.hypothetical else ''}", f.method,
             f"window {f.window}", f"as of {iso(f.as_of)}"]
    if f.params:
        parts.append("params " + ", ".join(f"{k}={v}" for k, v in f.params.items()))
    if srcs:
        parts.append("sources: " + srcs)
    if f.note:
        parts.append(f.note)
    return " · ".join(p for p in parts if p)


# -- Markdown -------------------------------------------------------------------------------------

def markdown(brief: Brief) -> str:
    notes = Notes()

    def para(p: Paragraph) -> str:
        out = []
        for part in p.parts:
            if isinstance(part, Ref):
                out.append(f"{part.text}[^{notes.number(part.finding)}]")
            else:
                out.append(part)
        return "".join(out)

    lines = [f"# {brief.title}", "", f"**{para(brief.headline)}**", ""]
    if brief.price_override is not None:
        lines += [f"> Hypothetical: price-dependent figures are re-valued at ${brief.price_override:,.0f}.", ""]
    if brief.highlights:
        lines += ["## Highlights", ""] + [f"- {para(h)}" for h in brief.highlights] + [""]
    for s in brief.sections:
        lines += [f"## {s.title}", ""]
        for p in s.paragraphs:
            lines += [para(p), ""]
        for t in s.tables:
            if t.caption:
                lines += [f"*{t.caption}*", ""]
            lines.append("| " + " | ".join(t.columns) + " |")
            lines.append("|" + "|".join("---:" if (t.align[i:i + 1] or ["l"])[0] == "r" else "---"
                                         for i in range(len(t.columns))) + "|")
            for row in t.rows:
                lines.append("| " + " | ".join(para(Paragraph(parts=[c])) for c in row) + " |")
            lines.append("")
        for c in s.charts:
            lines += [f"*Chart: {c.title}* (interactive in brief.html). {c.caption}", ""]
        for n in s.notes:
            lines += [f"<small>{para(n)}</small>", ""]
    lines += ["## Sources", "", "| table | dataset | rows | first | last |", "|---|---|---:|---|---|"]
    for d in brief.datasets:
        lines.append(f"| {d.table} | {d.origin} | {d.rows} | {iso(d.first)[:10] if d.first else ''} | "
                     f"{iso(d.last)[:10] if d.last else ''} |")
    lines += ["", "## Notes on the numbers", ""]
    for i, f in enumerate(notes.order, start=1):
        lines.append(f"[^{i}]: {provenance(f)}")
    return "\n".join(lines) + "\n"


# -- HTML -----------------------------------------------------------------------------------------

@lru_cache(maxsize=1)
def _env() -> Environment:
    return Environment(loader=PackageLoader("btcstress", "brief/templates"), autoescape=select_autoescape(["html"]))


@lru_cache(maxsize=1)
def plotly_js() -> str:
    from plotly.offline import get_plotlyjs
    return get_plotlyjs()


def html(brief: Brief, *, inline_js: bool = True) -> str:
    notes = Notes()

    def para(p: Paragraph) -> Markup:
        out = []
        for part in p.parts:
            if isinstance(part, Ref):
                n = notes.number(part.finding)
                cls = "num hyp" if part.finding.hypothetical else ("num cited" if part.finding.kind == "cited" else "num")
                if len(part.text) > 24:  # a list or a phrase, not a figure: let it wrap
                    cls += " long"
                out.append(f'<span class="{cls}" title="{escape(provenance(part.finding))}">{escape(part.text)}'
                           f'<sup><a href="#n{n}">{n}</a></sup></span>')
            else:
                out.append(str(escape(part)))
        return Markup("".join(out))

    def para_cell(cell) -> Markup:
        if isinstance(cell, str) and cell == NA:  # tables: a short mark, the words on hover
            return Markup('<span class="na" title="not available">n/a</span>')
        return para(Paragraph(parts=[cell]))

    charts = [(c, json.dumps(c.figure, default=str)) for s in brief.sections for c in s.charts]
    page = _env().get_template("brief.html.j2").render(
        brief=brief, para=para, para_cell=para_cell, notes=notes, provenance=provenance, iso=iso,
        basename=lambda origin: ", ".join(o.rsplit("/", 1)[-1] for o in origin.split(", ")),
        chart_json={c.id: j for c, j in charts}, plotly_js=Markup(plotly_js()) if inline_js else "")
    return page


def to_json(brief: Brief) -> str:
    return brief.model_dump_json(indent=2)


def write(brief: Brief, out_dir: Path) -> dict[str, Path]:
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = {"md": out_dir / "brief.md", "html": out_dir / "brief.html", "json": out_dir / "brief.json"}
    for kind, text in (("md", markdown(brief)), ("html", html(brief)), ("json", to_json(brief))):
        tmp = paths[kind].with_suffix(paths[kind].suffix + ".tmp")
        tmp.write_text(text, encoding="utf-8")
        tmp.replace(paths[kind])
    return paths
