"""The HTTP API and the dashboard: everything btcstress knows, over HTTP, read-only by default.

`btcstress serve` runs `create_app()` under uvicorn. Endpoints render findings; they never compute
a number themselves (metrics do, through `metrics.compute`). Request strings are parsed into typed
values (instants, prices, ids) and looked up in what the metrics returned; no SQL is ever built
from them.

Layout: one router per concern (`meta`: /health, /events; `findings`: /findings, /brief, /series;
`stress`: /stress, /episodes; `check`: POST /check; `scenario`: /scenario; `write`: POST /cite; `dashboard`: / and its assets),
each a module with `router = APIRouter()`. What they share is the `Service` (service.py), put on
`app.state.service` here and injected into every handler with `Depends(service)`; request parsing
and limits are in inputs.py, the error bodies in errors.py, the response models in models.py.
Adding an endpoint group: a module with a `router`, plus its name in `ROUTERS` below.

Store access: DuckDB connections are not thread-safe and Ibis expressions from two connections in
two threads interfere, so every store access in this process goes through one lock, on a
read-only connection opened for that access and closed after it (so a `btcstress ingest` in
another process can take the file between requests). Findings are cached per
(store version, as-of, price): the store version is the store file's (and its WAL's) mtime and
size, so an ingest makes the next request recompute. Concurrent requests for the same uncached key
wait for one computation instead of starting their own.
"""

from __future__ import annotations

import importlib
import os
from typing import Any

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from btcstress import config as cfg
from btcstress.errors import InputError
from btcstress.api import errors, guard
from btcstress.api.service import LRU, Service, service

# The routers, in the order their paths appear in the OpenAPI document. One line per group.
ROUTERS = ("meta", "findings", "stress", "history", "check", "scenario", "write", "dashboard")


def create_app(db: str | os.PathLike | None = None, *, config: dict | None = None, cache_size: int | None = None,
               token: str | None = None, allowed_hosts: list[str] | None = None) -> FastAPI:
    """The FastAPI app over the store `db`; `token` (or api.token / BTCSTRESS_API_TOKEN) turns writes on.
    `allowed_hosts` (or api.allowed_hosts) are the Host names it answers to (default: loopback names)."""
    from fastapi_offline import FastAPIOffline

    from btcstress.api.dashboard import WEB

    config = config or {}
    api_cfg = config.get("api") or {}
    if token is None:
        token = os.environ.get("BTCSTRESS_API_TOKEN") or api_cfg.get("token")
    if cache_size is None:
        cache_size = int(os.environ.get("BTCSTRESS_API_CACHE", api_cfg.get("cache_size", 64)))
    app = FastAPIOffline(
        title="btcstress", version="0.1.0",
        description="Bitcoin market stress from raw public data: findings with provenance, the brief, scenarios. "
                    "Every question is asked as of a UTC instant (`as_of`, e.g. 2026-02-06T08:00Z; a bare date "
                    "means the end of that UTC day; omitted means now). Read-only unless an API token is configured.")
    if token is not None and not isinstance(token, str):
        raise InputError("api.token must be a string (quote it in btcstress.yaml)")
    hosts = allowed_hosts if allowed_hosts is not None else api_cfg.get("allowed_hosts", list(guard.LOOPBACK))
    if not isinstance(hosts, list) or not all(isinstance(h, str) for h in hosts):
        raise InputError("api.allowed_hosts must be a list of host names")
    from btcstress import areas
    areas.all()  # a missing or broken area fails here, at start, not at the first request
    limits = api_cfg.get("limits") or {}
    app.state.service = Service(db, params=cfg.params(config, []), cache_size=cache_size, token=token,
                                workers=int(limits.get("workers", 2)), queue=int(limits.get("queue", 8)))
    app.add_middleware(guard.Guard, allowed_hosts=hosts, max_body=int(limits.get("max_body", guard.MAX_BODY)),
                       body_timeout=float(limits.get("body_timeout", guard.BODY_TIMEOUT)),
                       body_total=float(limits.get("body_total", guard.BODY_TOTAL)),
                       writes_on=lambda: app.state.service.token is not None)
    errors.install(app)
    for name in ROUTERS:  # a router that fails to import fails the app, loudly
        app.include_router(importlib.import_module(f"{__name__}.{name}").router)
    app.mount("/static", StaticFiles(directory=WEB), name="static")
    return app


def serve(host: str = "127.0.0.1", port: int = 8000, **kw: Any) -> None:  # pragma: no cover - thin wrapper
    import uvicorn

    from btcstress.api.protocol import server_options
    uvicorn.run(create_app(**kw), host=host, port=port, log_level="info", **server_options())


__all__ = ["create_app", "serve", "Service", "LRU", "service", "ROUTERS"]
