"""GET /stress and GET /episodes: the stress index with its components, and the past days most like an
instant with what came next (docs/METRICS.md#stress). Findings only, as the metrics return them."""

from __future__ import annotations

import json

from fastapi import APIRouter, Depends, Query
from fastapi.responses import Response

from btcstress.api.errors import ERRORS
from btcstress.api.inputs import AS_OF_Q, instant
from btcstress.api.models import FindingsResponse
from btcstress.api.service import Service, service
from btcstress.findings import iso

router = APIRouter()


def _body(as_of, found) -> bytes:
    return json.dumps({"as_of": iso(as_of), "price": None, "count": len(found),
                       "findings": [f.model_dump(mode="json") for f in found]}).encode()


@router.get("/stress", tags=["stress"], response_model=FindingsResponse, responses=ERRORS)
async def stress(as_of: str | None = AS_OF_Q, svc: Service = Depends(service)):
    """The stress index as of an instant (`stress.index`: n components used, contributions), each force's
    component (`stress.component.<force>`, with its measures) and `stress.index_highest_since`."""
    t = instant(as_of)

    def make() -> bytes:
        fs = svc.findings(t)
        return _body(fs.as_of, [f for f in fs if f.id.startswith("stress.") and not f.id.startswith("stress.episode")])
    return Response(await svc.answer(("stress", t), make), media_type="application/json")


@router.get("/episodes", tags=["stress"], response_model=FindingsResponse, responses=ERRORS)
async def episodes(as_of: str | None = AS_OF_Q,
                   top: int = Query(5, ge=1, le=50, description="how many episodes"),
                   svc: Service = Depends(service)):
    """The past days nearest to the instant in stress-component space, one per episode (`stress.episode`,
    nearest first: day, distance, components, that day's headline finding, 1/7/30-day BTC returns or
    "not known yet"), and the median and range of what came next (`stress.episodes.forward_return_pct`)."""
    t = instant(as_of)

    def make() -> bytes:
        from btcstress.metrics import stress as area
        p = {**area.DEFAULTS, **svc.params.get("stress", {})}
        fs = svc.findings(t)  # with series: holds the default number of episodes already
        if top == p["episodes_k"]:
            found = [f for f in fs if f.id.startswith("stress.episode")]
        else:
            with svc.store() as s:
                found = area.episodes(s, t, p, k=top)
        return _body(fs.as_of, found)
    return Response(await svc.answer(("episodes", t, top), make), media_type="application/json")
