"""mempool.space: daily hashrate and difficulty, and each day's blocks, fees and rewards, into
network_daily (the metric names the miners area reads). Parsing is parsers.mempool.

- hashrate/difficulty: one call, `/api/v1/mining/hashrate/{period}` with the shortest period that
  covers `since` (1m, 3m, 6m, 1y, 2y, 3y, all); days after the checkpoint are stored.
- blocks and rewards: one call per UTC day, `/api/v1/mining/blocks/fees?from=D&to=D+86399`, from the
  day after the checkpoint to yesterday. A day whose call fails after the retries is left out and
  reported; the next run's gap detection refetches it (backfill).
- rate: mempool.space answers 429 when pushed (it does not publish its limits): 4 requests per second
  by default (`sources.http.rates`), 429 handled with Retry-After.
Origins are stable per series (`mempool.space:/api/v1/mining/hashrate`, `mempool.space:/api/v1/mining/blocks/fees`)
so a refetch updates rows instead of adding a second copy (network_daily's key includes origin).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from btcstress.connectors.base import Connector, Progress, Request, SourceReport, backfill, missing_steps, \
    no_progress, now_utc
from btcstress.connectors.http import FetchError, Http
from btcstress.parsers import mempool as parse
from btcstress.store import Store

NAME = "mempool"
DEFAULTS: dict[str, Any] = {"url": "https://mempool.space", "rate": 4.0, "blocks": True}
HASHRATE_ORIGIN = "mempool.space:/api/v1/mining/hashrate"
BLOCKS_ORIGIN = "mempool.space:/api/v1/mining/blocks/fees"
_PERIODS = (("1m", 30), ("3m", 90), ("6m", 180), ("1y", 365), ("2y", 730), ("3y", 1095))
DAY = dt.timedelta(days=1)


def period_for(days: int) -> str:
    for name, n in _PERIODS:
        if days <= n:
            return name
    return "all"


class Mempool(Connector):
    name = NAME
    DEFAULTS = DEFAULTS

    def run(self, store: Store, *, since: dt.datetime, until: dt.datetime | None = None,
            progress: Progress = no_progress) -> SourceReport:
        report = SourceReport(NAME)
        until = until or now_utc()
        today = until.date()
        first = since.date()
        progress("hashrate", 0, None)
        self.hashrate(store, first, today, report)
        if self.conf["blocks"]:
            self.blocks(store, first, today, report, progress)
        report.requests = self.http.stats.requests
        return report

    # -- requests -------------------------------------------------------------------------------

    def hashrate_request(self, first: dt.date, today: dt.date) -> Request:
        return Request(f"{self.conf['url']}/api/v1/mining/hashrate/{period_for((today - first).days + 1)}")

    def blocks_request(self, d: dt.date) -> Request:
        s = int((dt.datetime.combine(d, dt.time()) - dt.datetime(1970, 1, 1)).total_seconds())
        return Request(f"{self.conf['url']}/api/v1/mining/blocks/fees", params={"from": s, "to": s + 86_399})

    # -- fetch, parse, store --------------------------------------------------------------------

    def hashrate(self, store: Store, first: dt.date, today: dt.date, report: SourceReport) -> None:
        resp = self.fetch(self.hashrate_request(first, today))
        parsed = parse.parse_hashrate(resp.text, HASHRATE_ORIGIN, complete_before=today)
        rows = parsed.rows.get(parse.TARGET, [])
        parsed.rows[parse.TARGET] = [r for r in rows if r["date"] >= first]
        self.store(store, parsed, report)
        if parsed.rows[parse.TARGET]:
            last = max(r["date"] for r in parsed.rows[parse.TARGET])
            self.set_checkpoint(store, "hashrate", dt.datetime.combine(last, dt.time()).isoformat())

    def blocks(self, store: Store, first: dt.date, today: dt.date, report: SourceReport,
               progress: Progress = no_progress) -> None:
        """The complete days in [first, today) after the checkpoint, then the base's backfill of the holes
        up to the checkpoint (a day that failed, a cut run): refetched, counted as gaps."""
        resume = resumed = self.checkpoint_instant(store, "blocks")
        start = dt.datetime.combine(first, dt.time())
        tail = [d for d in self._missing_days(store, start, dt.datetime.combine(today, dt.time()))
                if resume is None or d > resume.date()]
        for n, d in enumerate(tail):
            progress(f"blocks {d}", n, len(tail))
            if self._day(store, d, report) and (resume is None or d > resume.date()):
                resume = dt.datetime.combine(d, dt.time())
                self.set_checkpoint(store, "blocks", resume.isoformat())
        progress("blocks", len(tail), len(tail))
        if resumed is not None and resumed >= start:  # (a day that just failed above is not retried twice)
            end = min(resumed + DAY, dt.datetime.combine(today, dt.time()))
            backfill(report, "blocks", "day(s)", DAY,
                     holes=lambda: missing_steps(self._stored_days(store, first, today), start, end, DAY),
                     refetch=lambda a, b: [self._day(store, a.date() + k * DAY, report)
                                           for k in range((b - a).days + 1)])

    def _day(self, store: Store, d: dt.date, report: SourceReport) -> bool:
        """Fetch, parse and store one day's blocks; False when the fetch failed (noted) or gave no rows."""
        try:
            resp = self.fetch(self.blocks_request(d))
        except FetchError as exc:
            report.notes.append(f"blocks {d}: {exc}")
            return False
        parsed = parse.parse_day_blocks(resp.text, BLOCKS_ORIGIN, day=d)
        self.store(store, parsed, report)
        return bool(parsed.rows.get(parse.TARGET))

    def _stored_days(self, store: Store, first: dt.date, today: dt.date) -> list[dt.datetime]:
        t = store.table("network_daily")
        have = t.filter((t.metric == "blocks") & (t.origin == BLOCKS_ORIGIN) & (t.date >= first)
                        & (t.date < today)).select("date").execute()
        return [dt.datetime.combine(d.date() if hasattr(d, "date") else d, dt.time()) for d in have["date"]]

    def _missing_days(self, store: Store, start: dt.datetime, end: dt.datetime) -> list[dt.date]:
        runs = missing_steps(self._stored_days(store, start.date(), end.date()), start, end, DAY)
        return [a.date() + k * DAY for a, b in runs for k in range((b - a).days + 1)]


def connector(http: Http, conf: dict[str, Any] | None = None) -> Mempool:
    return Mempool(http, conf)
