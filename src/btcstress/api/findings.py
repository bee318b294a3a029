"""GET /findings, /brief, /series and /series/{name}: findings, the brief and chart series as of an instant."""

from __future__ import annotations

import datetime as dt
import json
import re
from typing import Any, Literal

from fastapi import APIRouter, Depends, Path as PathParam, Query
from fastapi.responses import Response

from btcstress.api.errors import ERRORS, ApiError
from btcstress.api.inputs import AS_OF_Q, ID_RE, MAX_IDS, MAX_SERIES_SPAN, PRICE_Q, SERIES_RE, instant, positive_price
from btcstress.api.models import FindingsResponse, SeriesResponse
from btcstress.api.service import Service, service
from btcstress.findings import Finding, FindingSet, Series, iso

router = APIRouter()


def _wanted(ids: str) -> list[str]:
    """The comma-separated ids or prefixes asked for, refused when empty, too many or malformed."""
    want = [i.strip() for i in ids.split(",") if i.strip()]
    if not want:
        raise ApiError(400, "bad_request", "ids: give one or more finding ids or prefixes, comma-separated")
    if len(want) > MAX_IDS:
        raise ApiError(400, "bad_request", f"ids: at most {MAX_IDS} ids per request, got {len(want)}")
    bad = [w for w in want if len(w) > 80 or not ID_RE.match(w)]
    if bad:
        raise ApiError(400, "bad_request", f"ids: malformed finding id(s) {bad[:5]} (e.g. price.last_usd)")
    return want


def _unknown(want: list[str], known) -> None:
    unknown = [w for w in want if not any(k.startswith(w) for k in known)]
    if unknown:
        from btcstress.envelope import nearest
        raise ApiError(404, "unknown_finding", f"unknown finding id(s): {', '.join(unknown[:10])} "
                       "(see GET /findings for the ids)", unknown=unknown[:10],
                       nearest={w: nearest(w, known) for w in unknown[:10]})


def _check_ids(ids: str | None) -> None:
    """Refuse malformed ids and ids (or prefixes) the finding catalogue does not know, before computing."""
    if ids is not None:
        from btcstress import areas
        _unknown(_wanted(ids), set(areas.catalogue()))


def _select(fs: FindingSet, ids: str | None, subject: str | None) -> list[Finding]:
    chosen = list(fs)
    if ids is not None:
        want = _wanted(ids)
        _unknown(want, {f.id for f in fs})
        chosen = [f for f in chosen if any(f.id == w or f.id.startswith(w) for w in want)]
    if subject is not None:
        subjects = {f.subject for f in chosen}
        match = [s for s in subjects if s.lower() == subject.strip().lower()]
        if not match:
            raise ApiError(404, "unknown_subject", f"no finding about subject {subject!r} here; subjects: "
                           + ", ".join(sorted(subjects)[:40]))
        chosen = [f for f in chosen if f.subject in match]
    return chosen


@router.get("/findings", response_model=FindingsResponse, tags=["findings"], responses=ERRORS)


async def findings(as_of: str | None = AS_OF_Q,
             ids: str | None = Query(None, max_length=4000,
                                     description="comma-separated finding ids or id prefixes (price., etf.flow_usd)"),
             subject: str | None = Query(None, max_length=200, description="only findings about this subject "
                                                                           "(BTC, IBIT, Strategy, ...)"),
             price: float | None = PRICE_Q,
             derive: bool = Query(False, description="compute every finding with its full derivation (source "
                                                     "rows, detail) instead of reading stored values"),
             svc: Service = Depends(service)):
    """All findings as of an instant, each with its value, unit, method, parameters and sources.

    On the grid (a day's end; an hour's end where the data is hourly) the materialised areas are read
    from finding_history when it is fresh: those findings cite it as their source and say so in
    `detail.served`; `derive=true` computes them. `served` says, per area, which way it went."""
    t, p = instant(as_of, latest=svc.latest), positive_price(price)
    _check_ids(ids)  # against the finding catalogue, before anything is computed

    def make() -> bytes:
        from btcstress.history.served import areas_for
        got = svc.served(t, p, derive=derive, areas=areas_for(_wanted(ids)) if ids is not None else None)
        chosen = _select(got.fs, ids, subject)
        from btcstress import envelope
        basis = envelope.GIVEN if as_of and as_of.strip() else envelope.LATEST
        return json.dumps(envelope.findings_envelope(got.fs, chosen, price=p, basis=basis, served=got.how)).encode()
    body = await svc.answer(("findings", t, p, ids, subject, derive), make)
    return Response(body, media_type="application/json")


@router.get("/brief", tags=["brief"], responses={**ERRORS, 200: {
    "content": {"text/html": {}, "text/markdown": {}, "application/json": {}},
    "description": "The brief: HTML (loads Plotly from this server), Markdown or JSON"}})


async def brief(as_of: str | None = AS_OF_Q,
          format: Literal["html", "md", "json"] = Query("html", description="html | md | json"),
          price: float | None = PRICE_Q,
          standalone: bool = Query(False, description="html only: inline Plotly's JS so the page works as a "
                                                      "file (about 4.6 MB)"),
                svc: Service = Depends(service)):
    """The brief as of an instant: headline, highlights, one section per force, charts, sources."""
    t, p = instant(as_of, latest=svc.latest), positive_price(price)

    def make() -> str:
        from btcstress import brief as brief_mod
        from btcstress.brief import render
        b = brief_mod.build(svc.findings(t, p, series=True))
        if format == "md":
            return render.markdown(b)
        if format == "json":
            return render.to_json(b)
        page = render.html(b, inline_js=standalone)
        if not standalone:
            page = page.replace("</head>", '<script src="/assets/plotly.min.js"></script>\n</head>', 1)
        return page
    text = await svc.answer(("brief", t, p, format, standalone and format == "html"), make)
    media = {"html": "text/html; charset=utf-8", "md": "text/markdown; charset=utf-8",
             "json": "application/json"}[format]
    return Response(text, media_type=media)


@router.get("/series", tags=["series"], responses=ERRORS)


def series_index(as_of: str | None = AS_OF_Q, svc: Service = Depends(service)):
    """The chart series available as of an instant: name, title, unit, points."""
    fs = svc.findings(instant(as_of, latest=svc.latest), series=True)
    return {"as_of": iso(fs.as_of), "series": [{"name": s.name, "title": s.title, "unit": s.unit,
                                                  "points": len(s.x)} for s in fs.series.values()]}


@router.get("/series/{name}", response_model=SeriesResponse, tags=["series"], responses=ERRORS)


def series(name: str = PathParam(..., max_length=80, description="e.g. price.hourly_48h (see GET /series)"),
           as_of: str | None = AS_OF_Q,
           from_: str | None = Query(None, alias="from", max_length=64,
                                     description="first point (instant; a bare date = that day's start)"),
           to: str | None = Query(None, max_length=64, description="last point (instant; a bare date = that "
                                                                   "whole day)"),
           svc: Service = Depends(service)):
    """One chart series (as the brief draws it) as of an instant, optionally cut to from..to."""
    if not SERIES_RE.match(name):
        raise ApiError(400, "bad_request", f"series name {name!r} is malformed (e.g. price.hourly_48h)")
    t = instant(as_of, latest=svc.latest)
    lo = instant(from_, "from", bare_date="start") if from_ else None
    hi = None
    if to:
        hi = instant(to, "to", bare_date="start")
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}", to.strip()):
            hi = hi + dt.timedelta(days=1) - dt.timedelta(microseconds=1)
    if lo and hi and lo > hi:
        raise ApiError(400, "bad_request", f"from ({iso(lo)}) is after to ({iso(hi)})")
    if lo and hi and hi - lo > MAX_SERIES_SPAN:
        raise ApiError(400, "range_too_large", f"from..to spans {(hi - lo).days} days; at most "
                       f"{MAX_SERIES_SPAN.days} per request")
    fs = svc.findings(t, series=True)
    s = fs.series.get(name)
    if s is None:
        raise ApiError(404, "unknown_series", f"no series {name!r} as of {iso(fs.as_of)}; available: "
                       + ", ".join(sorted(fs.series)), available=sorted(fs.series))
    return Response(json.dumps({"as_of": iso(fs.as_of), "series": _cut(s, lo, hi).model_dump(mode="json")},
                               default=str), media_type="application/json")


def _cut(s: Series, lo: dt.datetime | None, hi: dt.datetime | None) -> Series:
    """The points of `s` with lo <= x <= hi (x are ISO dates or instants); aligned extra columns too."""
    if lo is None and hi is None:
        return s
    keep = []
    for i, x in enumerate(s.x):
        try:
            t = _when(x)
        except ValueError:
            keep.append(i)
            continue
        if (lo is None or t >= lo) and (hi is None or t <= hi):
            keep.append(i)
    n = len(s.x)
    extra = {k: ([v[i] for i in keep] if isinstance(v, list) and len(v) == n else v) for k, v in s.extra.items()}
    return s.model_copy(update={"x": [s.x[i] for i in keep], "y": [s.y[i] for i in keep], "extra": extra})


def _when(x: Any) -> dt.datetime:
    if isinstance(x, dt.datetime):
        return x if x.tzinfo else x.replace(tzinfo=dt.timezone.utc)
    if isinstance(x, dt.date):
        return dt.datetime(x.year, x.month, x.day, tzinfo=dt.timezone.utc)
    t = dt.datetime.fromisoformat(str(x).replace("Z", "+00:00"))
    return t if t.tzinfo else t.replace(tzinfo=dt.timezone.utc)
