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
from urllib.parse import urlsplit

from btcstress.connectors.base import (Progress, SourceReport, checkpoint_instant, missing_steps, no_progress,
                                       now_utc, section, set_checkpoint, store_parsed)
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


class Mempool:
    name = NAME

    def __init__(self, http: Http, conf: dict[str, Any] | None = None):
        self.http = http
        self.conf = {**DEFAULTS, **section(conf, NAME)}
        self.http.rate_limits.setdefault(urlsplit(self.conf["url"]).netloc, float(self.conf["rate"]))

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

    def hashrate(self, store: Store, first: dt.date, today: dt.date, report: SourceReport) -> None:
        url = f"{self.conf['url']}/api/v1/mining/hashrate/{period_for((today - first).days + 1)}"
        resp = self.http.get(url)
        parsed = parse.parse_hashrate(resp.text, HASHRATE_ORIGIN, complete_before=today)
        rows = parsed.rows.get(parse.TARGET, [])
        parsed.rows[parse.TARGET] = [r for r in rows if r["date"] >= first]
        store_parsed(store, parsed, report)
        if parsed.rows[parse.TARGET]:
            last = max(r["date"] for r in parsed.rows[parse.TARGET])
            set_checkpoint(store, NAME, "hashrate", dt.datetime.combine(last, dt.time()).isoformat())

    def blocks(self, store: Store, first: dt.date, today: dt.date, report: SourceReport,
               progress: Progress = no_progress) -> None:
        """Each missing complete day in [first, today): the checkpoint's tail plus any hole (backfill)."""
        t = store.table("network_daily")
        have = t.filter((t.metric == "blocks") & (t.origin == BLOCKS_ORIGIN) & (t.date >= first)
                        & (t.date < today)).select("date").execute()
        stored = [dt.datetime.combine(d.date() if hasattr(d, "date") else d, dt.time()) for d in have["date"]]
        start = dt.datetime.combine(first, dt.time())
        runs = missing_steps(stored, start, dt.datetime.combine(today, dt.time()), DAY)
        resume = checkpoint_instant(store, NAME, "blocks")
        days = [a.date() + k * DAY for a, b in runs for k in range((b - a).days + 1)]
        # Holes before the checkpoint are gaps (a failed day, a cut run): backfilled, counted as such.
        gaps = {d for d in days if resume is not None and d <= resume.date()}
        report.gaps_found += len(gaps)
        filled = 0
        failed = []
        for n, d in enumerate(days):
            progress(f"blocks {d}", n, len(days))
            s = int((dt.datetime.combine(d, dt.time()) - dt.datetime(1970, 1, 1)).total_seconds())
            try:
                resp = self.http.get(f"{self.conf['url']}/api/v1/mining/blocks/fees",
                                     params={"from": s, "to": s + 86_399})
            except FetchError as exc:
                failed.append(d)
                report.notes.append(f"blocks {d}: {exc}")
                continue
            parsed = parse.parse_day_blocks(resp.text, BLOCKS_ORIGIN, day=d)
            store_parsed(store, parsed, report)
            if d in gaps and parsed.rows.get(parse.TARGET):
                filled += 1
            if parsed.rows.get(parse.TARGET) and (resume is None or d > resume.date()):
                resume = dt.datetime.combine(d, dt.time())
                set_checkpoint(store, NAME, "blocks", resume.isoformat())
        report.gaps_filled += filled
        progress("blocks", len(days), len(days))


def connector(http: Http, conf: dict[str, Any] | None = None) -> Mempool:
    return Mempool(http, conf)
