"""GET /health and GET /events."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request

from btcstress.api.errors import ERRORS
from btcstress.api.guard import scrub
from btcstress.api.models import Health
from btcstress.api.service import Service, service
from btcstress.errors import BtcstressError

router = APIRouter()


@router.get("/health", response_model=Health, tags=["meta"])


async def health(request: Request, svc: Service = Depends(service)):
    """Liveness, the store's data coverage and the cache's state. Never waits for a computation."""
    try:
        data = await svc.coverage_nowait() if svc.db.exists() else {"first": None, "last": None}
    except BtcstressError as exc:
        data = {"first": None, "last": None, "error": scrub(str(exc))}
    return {"status": "ok", "store": svc.db.name, "data": data,
            "cache": {"findings": svc.findings_cache.stats(), "responses": svc.response_cache.stats(),
                      "computations": svc.computations, "admission": svc.admission.stats()},
            "writes": svc.token is not None,
            "endpoints": sorted(request.app.openapi()["paths"])}  # the documented paths


@router.get("/events", tags=["meta"], responses=ERRORS)


def events(svc: Service = Depends(service)):
    """Named dates (halvings, elections, crashes) the dashboard can jump to."""
    return svc.events()
