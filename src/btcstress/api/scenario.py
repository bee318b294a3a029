"""GET /scenario: what happens if BTC goes to a price, or moves by a shock."""

from __future__ import annotations

import json

from fastapi import APIRouter, Depends, Query
from fastapi.responses import Response

from btcstress.api.errors import ERRORS, ApiError
from btcstress.api.inputs import AS_OF_Q, PRICE_Q, instant, positive_price
from btcstress.api.models import ScenarioResponse
from btcstress.api.service import Service, service
from btcstress.errors import NoDataError
from btcstress.findings import iso

router = APIRouter()


@router.get("/scenario", tags=["scenario"], response_model=ScenarioResponse, responses=ERRORS)


async def scenario(as_of: str | None = AS_OF_Q, price: float | None = PRICE_Q,
                   shock: str | None = Query(None, max_length=16, description="a change from price.last_usd, "
                                                                                 "e.g. -20%"),
                   svc: Service = Depends(service)):
    """What happens if BTC goes to a price (or moves by a shock): the scenario engine's findings
    (liquidations and their cascade, hashrate and companies under water, the ladder) and every
    price-dependent finding re-valued, all marked hypothetical."""
    t, p = instant(as_of, latest=svc.latest), positive_price(price)
    if (p is None) == (shock is None):
        raise ApiError(400, "bad_request", "give exactly one of price (USD) or shock (e.g. -20%)")

    def make() -> bytes:
        from btcstress.scenario import shock as sh
        observed = svc.findings(t).get("price.last_usd")
        if observed is None or observed.value is None:
            raise NoDataError(f"no observed price (price.last_usd) as of {iso(t)}")
        pct = sh.parse_shock(shock, "shock") if shock is not None else None
        target = positive_price(sh.shocked_price(float(observed.value), pct)) if pct is not None else p
        fs = svc.findings(t, target)
        chosen = [f for f in fs if f.id.startswith("scenario.") or f.hypothetical]
        return json.dumps({"as_of": iso(fs.as_of), "price": target, "shock_pct": pct,
                           "observed_price": observed.value, "count": len(chosen),
                           "findings": [f.model_dump(mode="json") for f in chosen]}).encode()
    body = await svc.answer(("scenario", t, p, shock), make)
    return Response(body, media_type="application/json")
