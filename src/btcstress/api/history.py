"""GET /history: a finding's point-in-time series (what `btcstress history` prints), as JSON rows.

Served from finding_history where it is fresh and the instants are on its grid, else computed; the
response's `how` says which, per area. Areas without a series-first path are computed one snapshot
per instant and limited to serve.FALLBACK_LIMIT instants (a 400 says so).
"""

from __future__ import annotations

import json
import math

from fastapi import APIRouter, Depends, Query
from fastapi.responses import Response

from btcstress.api.errors import ERRORS, ApiError
from btcstress.api.inputs import ID_RE, instant
from btcstress.api.service import Service, service
from btcstress.errors import InputError

router = APIRouter()
MAX_INSTANTS = 50_000


@router.get("/history", tags=["history"], responses=ERRORS)
async def history(id: str = Query(..., max_length=100, description="finding id, e.g. price.close_usd"),
                  subject: str | None = Query(None, max_length=100, description="only this subject"),
                  from_: str = Query(..., alias="from", max_length=64,
                                     description="first instant; a bare date = the end of that UTC day"),
                  to: str | None = Query(None, max_length=64, description="last instant [default: now]"),
                  every: str = Query("1d", max_length=8, description="step: 1d, 1h, 6h, 15m, 1w"),
                  svc: Service = Depends(service)):
    """Rows {as_of, id, subject, value, value_text, unit, window, kind, note, zscore, percentile}, one
    per instant (and subject/window), each equal to the finding a snapshot at that instant gives."""
    if not ID_RE.match(id) or id.endswith("."):
        raise ApiError(400, "bad_request", f"not a finding id: {id!r}")
    t0, t1 = instant(from_, "from"), instant(to, "to")

    def make() -> bytes:
        from btcstress.history import serve
        from btcstress.history.calendar import instants
        if len(instants(t0, t1, every)) > MAX_INSTANTS:  # InputError: a 400 (api/errors.py)
            raise InputError(f"more than {MAX_INSTANTS:,} instants: a coarser `every` or a shorter range")
        with svc.store() as s:
            ans = serve.answer(s, [id], t0, t1, every, subject)
        rows = []
        for r in ans.rows.to_dict("records"):
            r["as_of"] = r["as_of"].strftime("%Y-%m-%dT%H:%M:%SZ")
            rows.append({k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in r.items()})
        return json.dumps({"id": id, "subject": subject, "every": every, "how": ans.how, "count": len(rows),
                           "rows": rows}).encode()
    return Response(await svc.answer(("history", id, subject, t0, t1, every), make), media_type="application/json")
