"""Write endpoints (POST /cite): off unless an API token is configured; then they need `Authorization: Bearer`."""

from __future__ import annotations

import hmac

from fastapi import APIRouter, Depends, Request

from btcstress.api.errors import ERRORS, ApiError, ErrorBody
from btcstress.api.models import CitationIn
from btcstress.api.service import Service, service

router = APIRouter()


def writer(request: Request, svc: Service = Depends(service)) -> None:
    """The dependency of every write endpoint: 403 when writes are off, 401 without the token."""
    if svc.token is None:
        raise ApiError(403, "writes_disabled", "write endpoints are off: set api.token in btcstress.yaml or "
                       "BTCSTRESS_API_TOKEN, then send 'Authorization: Bearer <token>'")
    header = request.headers.get("authorization", "")
    scheme, _, given = header.partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(given.strip().encode(), svc.token.encode()):
        raise ApiError(401, "unauthorized", "send 'Authorization: Bearer <token>' with the configured API token")


@router.post("/cite", tags=["write"], status_code=201, dependencies=[Depends(writer)],
          responses={**ERRORS, 401: {"model": ErrorBody}, 403: {"model": ErrorBody}})


def cite(c: CitationIn, svc: Service = Depends(service)):
    """Record a figure reported by someone else (shown as a kind=cited finding). Needs the API token."""
    from btcstress import ingest
    from btcstress.parsers import citations
    parsed = citations.single(c.model_dump(), origin="cite:api")
    with svc.store(write=True) as s:
        ingest.run(s, [(None, "cite:api", parsed)])
    svc.clear()
    return {"stored": 1, "finding": c.finding, "subject": c.subject}
