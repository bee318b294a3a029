"""How stressed, and what came next: the stress index, its components, its history since 2018 with
today marked, and the past days most like this one with what followed (the episode findings).
Words and layout only; every number is a finding of the stress area (docs/METRICS.md#stress)."""

from __future__ import annotations

from btcstress.brief import Highlight, charts, fmt
from btcstress.brief.model import Chart, Paragraph, Ref, Section, TableBlock
from btcstress.brief.sections.price import since_is_news
from btcstress.findings import Finding, FindingSet
from btcstress.metrics.stats import MIN_HISTORY
from btcstress.stress.components import FORCE_NAMES, FORCES

HORIZONS = ("1d", "7d", "30d")


def _z(v: float) -> str:
    return f"{v:+.1f}"


def build(fs: FindingSet) -> Section | None:
    index = fs.get("stress.index")
    if index is None:
        return None
    paragraphs = [Paragraph(parts=_lead(fs, index))]
    tables = [_components(fs, index)]
    eps = [f for f in fs.all("stress.episode") if f.value is not None]
    if eps:
        tables.append(_episodes(fs, eps))
    charts_ = _chart(fs, index)
    notes = [Paragraph.of(
        "The index is the mean of the forces' components, each the robust score of its pressure measures "
        "against their own trailing year as known on the day (median and interquartile range, in σ-like units, "
        "positive = selling pressure); forces without data on the day are left out and counted. Episodes are the "
        "past day-ends nearest to today in the space of the components, one per episode; their forward returns "
        "are shown only where the horizon had ended by the as-of instant. Past outcomes are not a forecast: "
        "docs/METRICS.md#stress reports how well the index and the episodes did out of sample.")]
    return Section(id="stress", title="How stressed, and what came next", paragraphs=paragraphs, tables=tables,
                   charts=charts_, notes=notes)


def ranked(fs: FindingSet) -> Finding | None:
    """stress.index_highest_since when its base is long enough to rank a day against (the minimum history
    every area's percentiles use, metrics/stats.py): in the index's first months it is not stated."""
    since = fs.get("stress.index_highest_since")
    if since is None or since.value is None or since.detail.get("days", 0) < MIN_HISTORY:
        return None
    return since


def _share(x: float) -> str:
    """'17.3%'; a share that rounds to 0.0% keeps two decimals (a day that is not the extreme on record is
    at least 1 of N)."""
    return f"{x:.1f}%" if round(x, 1) > 0 else f"{x:.2f}%"


def _top(pct: float) -> str:
    return f"top {_share(100 - pct)}"


def _rank(since: Finding) -> str:
    """Where the index stands among the days of its base, from the side it is on: 'top 17.3% of 491
    days', 'bottom 0.4% of 456 days', 'the lowest of all 456 days' (never 'top 100.0%')."""
    pct, days = since.detail["percentile"], since.detail["days"]
    if pct >= 50:
        return f"{_top(pct)} of {days:,} days"
    return f"bottom {_share(pct)} of {days:,} days" if pct > 0 else f"the lowest of all {days:,} days"


def _lead(fs: FindingSet, index: Finding) -> list:
    if index.value is None:
        return ["Stress index: ", fmt.NA, f" ({index.note.removeprefix('not available: ') if index.note else ''})."]
    n = index.detail.get("n_components")
    parts: list = ["The stress index stands at ", Ref(text=_z(index.value), finding=index),
                   f" for {fmt.long_date(index.window.rsplit(':', 1)[-1])}, from {n} of {len(FORCES)} forces"]
    since = ranked(fs)
    if since is not None:
        days = since.detail["days"]
        if since.detail.get("highest_on_record"):  # the top of every day: no rank to give ("top 0.0%")
            parts += [f": the highest of all {days:,} days since ", Ref(text=fmt.long_date(since.value), finding=since)]
        elif not since_is_news(fs, since):  # the highest only since a few days ago: its rank is the news
            rank = _rank(since)
            parts += [": " if rank.startswith("the ") else ": in the ", Ref(text=rank, finding=since)]
        else:
            parts += [": the highest since ", Ref(text=fmt.long_date(since.value), finding=since),
                      f" ({_rank(since)})"]
    parts.append(". ")
    contrib = index.detail.get("contributions", {})
    top = sorted(contrib, key=lambda f: -contrib[f])[:2]
    if top:
        comps = [fs.get(f"stress.component.{f}") for f in top]
        parts.append("The largest contributions: ")
        day = index.window.rsplit(':', 1)[-1]
        for i, (force, comp) in enumerate(zip(top, comps)):
            # A component older than the index's day says its date (brief/lint.py `stale_value`).
            cday = str((comp.detail or {}).get("date") or comp.window.rsplit(":", 1)[-1]) if comp is not None else ""
            dated = f", {fmt.long_date(cday)}" if cday and cday[:10] != day[:10] else ""
            parts += ([", " if i else ""] + [FORCE_NAMES[force].lower(), " (", fmt.ref(comp, digits=1), f"{dated})"])
        parts.append(".")
    return parts


def _components(fs: FindingSet, index: Finding) -> TableBlock:
    rows = []
    contrib = index.detail.get("contributions", {})
    for force in FORCES:
        comp = fs.get(f"stress.component.{force}")
        if comp is None or comp.value is None:
            rows.append([FORCE_NAMES[force], fmt.NA, fmt.NA, fmt.NA])
            continue
        days = sorted({m["date"] for m in comp.detail.get("measures", []) if m.get("z") is not None})
        rows.append([FORCE_NAMES[force], Ref(text=_z(comp.value), finding=comp),
                     Ref(text=_z(contrib[force]), finding=index) if force in contrib else fmt.NA,
                     ", ".join(days)])
    return TableBlock(caption="The index's components (robust z against their own trailing year)",
                      columns=["Force", "Component", "Contribution", "Day"], rows=rows, align=["l", "r", "r", "l"])


def _fwd(ep: Finding, h: str):
    out = ep.detail.get("forward", {}).get(h, {})
    if out.get("value") is None:
        return out.get("status", fmt.NA)
    return Ref(text=fmt.pct(out["value"], signed=True), finding=ep)


def _episodes(fs: FindingSet, eps: list[Finding]) -> TableBlock:
    rows = []
    for ep in eps:
        head = ep.detail.get("headline") or {}
        move = fmt.pct(head["value"], signed=True) if head.get("value") is not None else fmt.NA
        rows.append([str(ep.detail["rank"]), Ref(text=fmt.long_date(ep.value), finding=ep),
                     Ref(text=_z(ep.detail["index"]), finding=ep), Ref(text=f"{ep.detail['distance']:.2f}", finding=ep),
                     Ref(text=move, finding=ep) if head else fmt.NA, *[_fwd(ep, h) for h in HORIZONS]])
    summary: list = ["", "Median (range)", "", "", ""]
    for h in HORIZONS:
        f = fs.get("stress.episodes.forward_return_pct", window=h)
        if f is None or f.value is None:
            summary.append(f.note.removeprefix("not available: ").split(":")[0] if f is not None and f.note else fmt.NA)
            continue
        summary.append(Ref(text=f"{fmt.pct(f.value, signed=True)} ({fmt.pct(f.detail['min'], signed=True)} to "
                                f"{fmt.pct(f.detail['max'], signed=True)})", finding=f))
    rows.append(summary)
    return TableBlock(caption="The past days most like this one, and what came next (BTC, close to close)",
                      columns=["", "Day", "Index", "Distance", "That day", "+1 day", "+7 days", "+30 days"],
                      rows=rows, align=["r", "l", "r", "r", "r", "r", "r", "r"])


def _chart(fs: FindingSet, index: Finding) -> list[Chart]:
    s = fs.series.get("stress.index_daily")
    if s is None:
        return []
    data = [charts.line(s, name="stress index")]
    if index.value is not None:
        data.append(charts.marker(index.as_of.isoformat().replace("+00:00", "Z"), index.value,
                                  f"today {_z(index.value)}"))
    for ep in fs.all("stress.episode"):
        if ep.value is not None:
            data.append({"type": "scatter", "mode": "markers", "x": [ep.detail["instant"]], "y": [ep.detail["index"]],
                         "marker": {"color": charts.MUTED, "size": 7, "symbol": "circle-open"},
                         "name": f"episode {ep.value}", "hoverinfo": "name"})
    return [Chart(id="stress_index", title=s.title, sources=s.sources, height=260,
                  figure={"data": data, "layout": charts.layout(yaxis_title="index (robust z)", height=260)})]


def highlights(fs: FindingSet) -> list[Highlight]:
    index, since = fs.get("stress.index"), ranked(fs)
    if index is None or index.value is None or since is None or index.value < 2:
        return []
    # Scored by the index itself: it is already in z-like units.
    pct = since.detail.get("percentile")
    rank = f"{_top(pct)} of days since {since.detail['from'][:4]}" if pct is not None else None
    lead = ["The stress index, combining ", str(index.detail.get("n_components")), " forces, stands at ",
            Ref(text=f"{_z(index.value)}σ", finding=index), " (robust, each force against its own year)"]
    if since.detail.get("highest_on_record"):  # the top of every day: no rank to give ("top 0.0%")
        tail = [", the highest of every day since ", Ref(text=fmt.long_date(since.value), finding=since), "."]
    elif not since_is_news(fs, since):  # highest only since a few days ago: its rank says how unusual it is
        tail = [": in the ", Ref(text=rank, finding=since), "."] if rank else ["."]
    else:
        tail = [", the highest since ", Ref(text=fmt.long_date(since.value), finding=since),
                f": {rank}." if rank else "."]
    return [Highlight(abs(index.value), Paragraph.of(*lead, *tail))]
