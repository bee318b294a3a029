"""Live connectors: fetch from the primary public sources into the same parsers and store.

`parsers/` parses (pure, fixture-tested); `connectors/` fetches (HTTP, websockets), resumes from
checkpoints, finds and backfills gaps. The core never imports a connector; the CLI and the monitor do.

The periodic REST sources (`btcstress ingest live --sources ...`) are the `pulls` the areas declare in
the area registry (`pulls()`: binance, mempool, farside, edgar); each is `connectors/<name>.py` with
`connector(http, conf)`. The liquidation streams are in connectors.streams (`btcstress monitor`).
"""

from __future__ import annotations

import datetime as dt
import importlib
import logging
import time
from typing import Any

import httpx

from btcstress.connectors.base import Progress, SourceReport, no_progress
from btcstress.connectors.http import FetchError, Http
from btcstress.errors import BtcstressError, InputError

log = logging.getLogger(__name__)


def pulls() -> tuple[str, ...]:
    """The periodic REST sources, as the areas declare them (btcstress.areas), in area order."""
    from btcstress import areas
    return areas.pulls()


def build(name: str, http: Http, conf: dict[str, Any] | None = None):
    if name not in pulls():
        raise InputError(f"unknown source {name!r}; known: {', '.join(pulls())}")
    return importlib.import_module(f"btcstress.connectors.{name}").connector(http, conf)


def http_for(conf: dict[str, Any] | None = None, **kw) -> Http:
    return Http.from_config((conf or {}).get("http"), **kw)


def run(store, names: list[str], *, since: dt.datetime, until: dt.datetime | None = None,
        conf: dict[str, Any] | None = None, http: Http | None = None,
        progress_for=None) -> list[SourceReport]:
    """Run each named pull; a source that fails is reported (error) and the others still run. Then the
    derived state (finding_history, the stored snapshots) is refreshed once for everything the run stored:
    a source commits page by page (so a kill loses at most a page), and refreshing after each page cost
    a history refresh and up to 7 snapshot computations per page."""
    from btcstress import ingest
    reports = []
    own = http is None
    http = http or http_for(conf)
    try:
        for name in names:
            c = build(name, http, conf)
            progress: Progress = progress_for(name) if progress_for else no_progress
            before, t0 = http.stats.requests, time.perf_counter()
            log.info("%s: fetching since %s%s", name, since, f" until {until}" if until else "")
            try:
                r = c.run(store, since=since, until=until, progress=progress)
            except (BtcstressError, httpx.HTTPError, ValueError) as exc:  # one failing source must not stop the others
                r = SourceReport(name, error=f"{type(exc).__name__}: {exc}")
                log.info("%s failed: %s", name, r.error, exc_info=log.isEnabledFor(logging.DEBUG))
            r.requests = http.stats.requests - before
            log.info("%s: %d fetched, %d new, %d updated, %d quarantined, %d gaps filled, %d requests (%.1f s)",
                     name, r.fetched, r.new, r.updated, r.quarantined, r.gaps_filled, r.requests,
                     time.perf_counter() - t0)
            reports.append(r)
    finally:
        if own:
            http.close()
    ingest.refresh_derived(store)  # cheap when nothing changed (no instant to recompute)
    return reports


__all__ = ["FetchError", "Http", "SourceReport", "build", "http_for", "pulls", "run"]
