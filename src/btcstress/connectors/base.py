"""What every live connector shares: the `Connector` base (its constructor, rate limits, the fetch
step, checkpoints under its name), its report, storing what the parsers made of a fetch, and finding
and backfilling the holes in a regular series.

A connector is three steps (the OpenBB fetcher split): turn the query (since, until, config) into the
venue's `Request`s (its own methods, named `*_request(s)`), fetch each (`Connector.fetch`: the shared
`Http`, with its timeouts, retries and rate limits), and hand the text to the pure parsers in
`btcstress.parsers`. Storing goes through `ingest.run` (`Connector.store`), so a connector's writes are
one transaction per batch, logged in `ingest_log`, idempotent by natural key, and anything the parser
refused lands in `quarantine` with the URL as its file. A regular series resumes from its checkpoint
and closes its holes with `backfill` (find the holes, refetch each, report found / filled / missing).
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass, field
from typing import Any, Callable, ClassVar, Iterable
from urllib.parse import urlsplit

import httpx
import pyarrow as pa

from btcstress import ingest
from btcstress.connectors.http import Http
from btcstress.parsers.common import Parsed
from btcstress.store import Store, utc_naive

log = logging.getLogger(__name__)

# progress(description, completed, total): a connector reports how far it got; total None = unknown.
Progress = Callable[[str, float, float | None], None]


def no_progress(description: str, completed: float, total: float | None) -> None:
    return None


@dataclass
class SourceReport:
    """What one source did in one run, as the `ingest live` summary table shows it."""

    source: str
    fetched: int = 0  # rows (or messages) read from the source
    new: int = 0
    updated: int = 0
    unchanged: int = 0
    quarantined: int = 0
    skipped: int = 0
    gaps_found: int = 0  # missing intervals found in the stored series after the fetch
    gaps_filled: int = 0  # of those, how many a backfill fetch closed
    requests: int = 0
    notes: list[str] = field(default_factory=list)
    error: str | None = None

    @property
    def stored(self) -> int:
        return self.new + self.updated

    def add_run(self, report: ingest.RunReport) -> None:
        s = report.stored
        self.fetched += report.lines_in
        self.new += s.new
        self.updated += s.updated
        self.unchanged += s.unchanged
        self.quarantined += report.quarantined
        self.skipped += report.skipped


def now_utc() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)


def store_parsed(store: Store, parsed: Parsed | Iterable[Parsed], report: SourceReport) -> ingest.RunReport:
    """Upsert one or more parsed fetches in one transaction; quarantine what the parsers refused."""
    items = [parsed] if isinstance(parsed, Parsed) else list(parsed)
    # A live source's revisions are its own corrections: accepted, and the old values kept in value_history.
    # The derived state is refreshed once per connectors.run, after every source's last page, not per page.
    run = ingest.run(store, [(None, p.origin, p) for p in items], allow_quarantine=True, allow_rewrite=True,
                     refresh=False)
    report.add_run(run)
    return run


# -- checkpoints --------------------------------------------------------------------------------

def get_checkpoint(store: Store, source: str, key: str) -> str | None:
    t = store.table("checkpoints")
    df = t.filter((t.source == source) & (t.key == key)).select("value").execute()
    return None if df.empty else str(df["value"].iloc[0])


def set_checkpoint(store: Store, source: str, key: str, value: str, detail: str | None = None) -> None:
    now = now_utc()
    log.debug("checkpoint %s/%s = %s", source, key, value)
    store.upsert("checkpoints", pa.table({
        "source": [source], "key": [key], "value": [value], "detail": [detail],
        "origin": [f"connector:{source}"], "available_at": [now]}))


def checkpoint_instant(store: Store, source: str, key: str) -> dt.datetime | None:
    v = get_checkpoint(store, source, key)
    return dt.datetime.fromisoformat(v) if v else None


# -- gaps ---------------------------------------------------------------------------------------

def missing_steps(have: Iterable[dt.datetime], start: dt.datetime, end: dt.datetime,
                  step: dt.timedelta) -> list[tuple[dt.datetime, dt.datetime]]:
    """Runs of expected instants start, start+step, ... < end that are absent from `have`, as
    [first missing, last missing] pairs (a regular series' holes)."""
    present = {utc_naive(h) for h in have}
    runs: list[tuple[dt.datetime, dt.datetime]] = []
    t = start
    run_start = None
    prev = None
    while t < end:
        if t not in present:
            if run_start is None:
                run_start = t
            prev = t
        elif run_start is not None:
            runs.append((run_start, prev))
            run_start = None
        t += step
    if run_start is not None:
        runs.append((run_start, prev))
    return runs


def count_steps(runs: list[tuple[dt.datetime, dt.datetime]], step: dt.timedelta) -> int:
    return sum(int((b - a) / step) + 1 for a, b in runs)


Runs = list[tuple[dt.datetime, dt.datetime]]


def backfill(report: SourceReport, what: str, unit: str, step: dt.timedelta, *, holes: Callable[[], Runs],
             refetch: Callable[[dt.datetime, dt.datetime], None]) -> None:
    """Gap detection and backfill, the same for every regular series: find the holes of the stored
    series (`holes()`: runs of missing steps), refetch each run (`refetch(first, last)`), look again,
    and report what was found and filled; what is still missing (a venue outage) is noted, never
    filled in."""
    runs = holes()
    found = count_steps(runs, step)
    if not runs:
        return
    for a, b in runs:
        refetch(a, b)
    still = count_steps(holes(), step)
    report.gaps_found += found
    report.gaps_filled += found - still
    if still:
        report.notes.append(f"{what}: {still} {unit} missing at the venue (not filled)")


def section(conf: dict[str, Any] | None, name: str) -> dict[str, Any]:
    """The config's `sources.<name>` mapping (empty when absent)."""
    return dict(((conf or {}).get(name)) or {})


# -- the connector interface ----------------------------------------------------------------------

@dataclass(frozen=True)
class Request:
    """One call to a venue, built from the query before anything is fetched."""

    url: str
    params: dict[str, Any] | None = None
    headers: dict[str, str] | None = None


class Connector:
    """A periodic REST source: `run(store, since=, until=, progress=) -> SourceReport`, built from
    requests -> `fetch` -> a parser of `btcstress.parsers` -> `store`. Subclasses name themselves
    (`name`, the config section `sources.<name>` and their checkpoints' source) and their `DEFAULTS`;
    `rate_keys` are the config keys of the URLs whose host `rate` (requests per second) limits."""

    name: ClassVar[str] = ""
    DEFAULTS: ClassVar[dict[str, Any]] = {}
    rate_keys: ClassVar[tuple[str, ...]] = ("url",)

    def __init__(self, http: Http, conf: dict[str, Any] | None = None):
        self.http = http
        self.conf = {**self.DEFAULTS, **section(conf, self.name)}
        self.limit_rates()

    def limit_rates(self) -> None:
        """Per host, at most `rate` requests per second unless the config's `http.rates` says otherwise."""
        for key in self.rate_keys:
            self.http.rate_limits.setdefault(urlsplit(self.conf[key]).netloc, float(self.conf["rate"]))

    def run(self, store: Store, *, since: dt.datetime, until: dt.datetime | None = None,
            progress: Progress = no_progress) -> SourceReport:
        """The interface's one per-connector step: build this source's requests for [since, until), fetch,
        parse and store them. Every concrete connector (mempool, farside, edgar, binance) defines it."""
        raise NotImplementedError(f"{type(self).__name__} is a Connector without its own run()")

    def fetch(self, req: Request, *, ok: tuple[int, ...] = (200,)) -> httpx.Response:
        return self.http.get(req.url, params=req.params, headers=req.headers, ok=ok)

    def store(self, store: Store, parsed: Parsed | Iterable[Parsed], report: SourceReport) -> ingest.RunReport:
        return store_parsed(store, parsed, report)

    def checkpoint(self, store: Store, key: str) -> str | None:
        return get_checkpoint(store, self.name, key)

    def checkpoint_instant(self, store: Store, key: str) -> dt.datetime | None:
        return checkpoint_instant(store, self.name, key)

    def set_checkpoint(self, store: Store, key: str, value: str, detail: str | None = None) -> None:
        set_checkpoint(store, self.name, key, value, detail)
