"""The brief: findings -> headline, highlights, sections, datasets -> Markdown, HTML, JSON.

Each area's section (named by its declaration in the area registry, btcstress.areas; the built-in
ones are brief/sections/<area>.py) has `build(fs) -> Section | None` and, optionally,
`highlights(fs) -> list[Highlight]`; sections appear in the areas' `section_order`, then the registry's order. Highlights are ranked
by how unusual their finding is against its own history (|z-score| or an extreme percentile, stated
in the text).
"""

from __future__ import annotations

from dataclasses import dataclass

from btcstress import areas as registry
from btcstress.brief.model import Brief, DatasetUse, Paragraph, Ref, Section
from btcstress.details import Drawdown, Flagged
from btcstress.findings import FindingSet


@dataclass
class Highlight:
    score: float  # how unusual (|z|, or an equivalent from a percentile); higher comes first
    paragraph: Paragraph
    area: str = ""  # set by build(): the area whose section proposed it

# Highlights: at most one per area, those at least this unusual (|z|) first, then the next best to
# reach MIN_HIGHLIGHTS; never more than MAX_HIGHLIGHTS.
HIGHLIGHT_Z = 2.0
MIN_HIGHLIGHTS, MAX_HIGHLIGHTS = 3, 5


def section_modules():
    """(area name, section module) for every registered area that has a section, in brief order
    (`section_order`, then registry order)."""
    ranked = sorted((a for a in registry.all() if a.section), key=lambda a: a.section_order)  # stable
    return [(a.name, a.section_module()) for a in ranked]


def build(fs: FindingSet, *, max_highlights: int = MAX_HIGHLIGHTS) -> Brief:
    from btcstress.brief import why
    from btcstress.brief.sections import headline as hl

    sections: list[Section] = []
    highlights: list[Highlight] = []
    for area, mod in section_modules():
        s = mod.build(fs)
        if s is not None:
            sections.append(s)
        if hasattr(mod, "highlights"):
            for h in mod.highlights(fs):
                if _suspect(h.paragraph):
                    continue  # a value the quality rules flagged is never a highlight (docs/DATA.md)
                h.area = h.area or area
                highlights.append(h)
    w = why.section(fs)
    if w is not None:
        sections.insert(0, w)
    price = fs.get("price.drawdown_from_ath_pct")
    return Brief(title=hl.title(fs), as_of=fs.as_of, headline=hl.headline(fs),
                 highlights=[h.paragraph for h in choose_highlights(highlights, max_highlights)], sections=sections,
                 datasets=datasets(fs, sections), findings=list(fs),
                 price_override=Drawdown.of(price).price if price is not None and price.hypothetical else None,
                 served=getattr(fs, "served", None))


def _suspect(p: Paragraph) -> bool:
    return any(isinstance(x, Ref) and Flagged.of(x.finding).suspect for x in p.parts)


def choose_highlights(candidates: list[Highlight], limit: int = MAX_HIGHLIGHTS) -> list[Highlight]:
    """The most unusual findings, one per area first: every area's best highlight with |z| >= HIGHLIGHT_Z,
    most unusual first; then the next best (any area) until there are MIN_HIGHLIGHTS."""
    ranked = sorted(candidates, key=lambda h: -h.score)
    chosen: list[Highlight] = []
    areas: set[str] = set()
    for h in ranked:
        if h.score >= HIGHLIGHT_Z and h.area not in areas:
            chosen.append(h)
            areas.add(h.area)
    for h in ranked:
        if len(chosen) >= MIN_HIGHLIGHTS:
            break
        if not any(h is c for c in chosen):
            chosen.append(h)
    chosen.sort(key=lambda h: -h.score)
    return chosen[:limit]


def datasets(fs: FindingSet, sections: list[Section]) -> list[DatasetUse]:
    """Every dataset a finding or chart used, with the widest coverage used of it."""
    seen: dict[tuple[str, str], DatasetUse] = {}
    sources = [s for f in fs for s in f.sources] + [s for sec in sections for c in sec.charts for s in c.sources]
    for s in sources:
        for origin in s.origin.split(", "):
            if not origin.startswith(("snapshot/", "package/", "http", "live/", "fixture/", "file:", "cli/", "/")) \
                    and "/" not in origin:
                continue  # a label, not a dataset
            key = (s.table, origin)
            d = seen.get(key)
            if d is None:
                seen[key] = DatasetUse(table=s.table, origin=origin, rows=s.rows, first=s.first, last=s.last)
                continue
            d.rows = max(d.rows, s.rows)
            d.first = min(x for x in (d.first, s.first) if x is not None) if (d.first or s.first) else None
            d.last = max(x for x in (d.last, s.last) if x is not None) if (d.last or s.last) else None
    return sorted(seen.values(), key=lambda d: (d.table, d.origin))
