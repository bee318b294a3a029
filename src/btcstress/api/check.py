"""POST /check: the claim checker (btcstress.claims) over a claims CSV or JSON array."""

from __future__ import annotations

import collections
import datetime as dt
import json
from typing import Any

from fastapi import APIRouter, Depends, Request

from btcstress.api.errors import ERRORS, ApiError, ErrorBody
from btcstress.api.inputs import AS_OF_Q, CLAIMS_EXAMPLE, MAX_BODY, MAX_CLAIMS, MAX_INSTANTS, instant
from btcstress.api.service import Service, service
from btcstress.findings import iso

router = APIRouter()


@router.post("/check", tags=["claims"], responses={**ERRORS, 413: {"model": ErrorBody}}, openapi_extra={
    "requestBody": {"required": True, "content": {
        "text/csv": {"schema": {"type": "string"}, "example": CLAIMS_EXAMPLE},
        "application/json": {"schema": {"type": "array", "items": {"type": "object"}}}}}})


async def check(request: Request, as_of: str | None = AS_OF_Q, svc: Service = Depends(service)):
    """Verdicts (supported / contradicted / unverifiable, with the computed value and the reason) for
    a claims file: CSV text (claim_id, finding_id, subject, comparator, value, unit, as_of, window,
    quote) or a JSON array of the same fields."""
    t = instant(as_of, latest=svc.latest)
    raw = await request.body()  # already bounded in size and time by the Guard middleware
    if len(raw) > MAX_BODY:
        raise ApiError(413, "too_large", f"claims body is {len(raw):,} bytes; at most {MAX_BODY:,}")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise ApiError(400, "bad_request", "claims: the body is not UTF-8 text") from None
    source: Any = text
    if "json" in request.headers.get("content-type", "") or text.lstrip().startswith(("[", "{")):
        try:
            source = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ApiError(400, "bad_request", f"claims: invalid JSON ({exc})") from None
        except RecursionError:
            raise ApiError(400, "bad_request", "claims: JSON nested too deeply") from None
        if isinstance(source, dict):
            source = source.get("claims")
        if not isinstance(source, list):
            raise ApiError(400, "bad_request", "claims: expected a JSON array of claims (or {\"claims\": [...]})")
    from starlette.concurrency import run_in_threadpool
    verdicts = await run_in_threadpool(_check, svc, source, t)
    counts = collections.Counter(v["verdict"] for v in verdicts)
    return {"as_of": iso(t), "count": len(verdicts), "summary": dict(counts), "verdicts": verdicts}


def _check(svc: Service, source: Any, t: dt.datetime) -> list[dict]:
    from pydantic import ValidationError

    from btcstress import claims
    from btcstress.config import EARLIEST_YEAR, LATEST_YEAR
    try:
        rows = claims.parse(source)
    except ValidationError as exc:
        raise ApiError(400, "bad_request", f"claims: {exc.errors()[0].get('msg')}") from None
    except (TypeError, ValueError, AttributeError, KeyError, RecursionError) as exc:
        raise ApiError(400, "bad_request", f"claims: malformed ({type(exc).__name__})") from None
    if len(rows) > MAX_CLAIMS:
        raise ApiError(400, "bad_request", f"claims: at most {MAX_CLAIMS} per request, got {len(rows)}")
    bad = [c.claim_id for c in rows if not EARLIEST_YEAR <= c.day.year <= LATEST_YEAR]
    if bad:
        raise ApiError(400, "bad_request", f"claims {bad[:5]}: as_of out of range (years {EARLIEST_YEAR}.."
                       f"{LATEST_YEAR})")
    instants = {claims.evaluation_instant(c, t)[0] for c in rows}
    if len(instants) > MAX_INSTANTS:
        raise ApiError(400, "too_many_instants", f"claims: {len(instants)} distinct instants to evaluate; at most "
                       f"{MAX_INSTANTS} per request (each is a full computation): split the request")
    with svc.admission.admit(), svc.store() as s:
        return [v.model_dump(mode="json") for v in claims.check(s, rows, t, params=svc.params)]
