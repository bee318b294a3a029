"""Farside Investors' BTC ETF flow table page -> a new vintage of etf_flows / etf_flow_days when
anything changed (parsing is parsers.farside, the HTML layout).

Each fetch is published_at = the fetch instant (the page has no timestamp of its own; a fetch is the
earliest moment btcstress can prove the figures were public). The page's SHA-256 is checkpointed: an
identical page stores nothing. A changed page is parsed and compared day by day with the latest
vintage already stored for that day; only the days whose per-fund flows, Total, missing funds or
status differ are stored, under the new vintage. Earlier vintages are never touched, so a finding as
of T still reads the table as it stood at T (a preliminary day before the late fund reported).
"""

from __future__ import annotations

import datetime as dt
import hashlib
from typing import Any

import pandas as pd

from btcstress.connectors.base import Connector, Progress, Request, SourceReport, no_progress, now_utc
from btcstress.connectors.http import Http
from btcstress.parsers import farside as parse
from btcstress.parsers.common import Parsed
from btcstress.store import Store

NAME = "farside"
DEFAULTS: dict[str, Any] = {"url": "https://farside.co.uk/bitcoin-etf-flow-all-data/", "rate": 0.5}


class Farside(Connector):
    name = NAME
    DEFAULTS = DEFAULTS

    def page_request(self) -> Request:
        return Request(self.conf["url"], headers={"Accept": "text/html"})

    def run(self, store: Store, *, since: dt.datetime, until: dt.datetime | None = None,
            progress: Progress = no_progress, fetched_at: dt.datetime | None = None) -> SourceReport:
        report = SourceReport(NAME)
        progress("page", 0, 1)
        url = self.conf["url"]
        resp = self.fetch(self.page_request())
        at = (fetched_at or now_utc()).replace(microsecond=0)
        digest = hashlib.sha256(resp.content).hexdigest()
        report.requests = self.http.stats.requests
        if self.checkpoint(store, "page_sha256") == digest:
            report.notes.append("page unchanged since the last fetch: no new vintage")
            progress("page", 1, 1)
            return report
        parsed = parse.parse(resp.text, f"farside:{url}@{at:%Y-%m-%dT%H:%M:%SZ}", published_at=at)
        changed = self.changed_days(store, parsed)
        report.notes.append(f"{len(changed)} day(s) changed: stored as vintage {at:%Y-%m-%dT%H:%M:%SZ}")
        for target in (parse.FLOWS, parse.DAYS):
            parsed.rows[target] = [r for r in parsed.rows.get(target, []) if r["date"] in changed]
        self.store(store, parsed, report)
        self.set_checkpoint(store, "page_sha256", digest, detail=at.isoformat())
        progress("page", 1, 1)
        return report

    @staticmethod
    def changed_days(store: Store, parsed: Parsed) -> set[dt.date]:
        """Days of `parsed` that differ from the latest stored vintage of the same day (or are new)."""
        days_new = parsed.rows.get(parse.DAYS, [])
        if not days_new:
            return set()
        dates = sorted({r["date"] for r in days_new})
        d = store.table("etf_flow_days")
        d = d.filter(d.date.isin(dates))
        latest = d.group_by("date").aggregate(vintage=d.vintage.max())
        old_days = d.join(latest, ["date", "vintage"]).execute()
        f = store.table("etf_flows")
        old_flows = f.join(latest, ["date", "vintage"]).select("date", "fund", "net_flow_usd").execute()

        def day_key(date, total, n, missing, prelim):
            return (None if total is None or pd.isna(total) else round(float(total), 2), int(n), missing or "",
                    bool(prelim))

        old = {pd.Timestamp(r.date).date(): day_key(r.date, r.total_usd, r.funds_reported, r.missing_funds,
                                                    r.preliminary) for r in old_days.itertuples()}
        old_f: dict[dt.date, dict] = {}
        for r in old_flows.itertuples():
            old_f.setdefault(pd.Timestamp(r.date).date(), {})[r.fund] = (
                None if pd.isna(r.net_flow_usd) else round(float(r.net_flow_usd), 2))
        new_f: dict[dt.date, dict] = {}
        for r in parsed.rows.get(parse.FLOWS, []):
            new_f.setdefault(r["date"], {})[r["fund"]] = (None if r["net_flow_usd"] is None
                                                          else round(float(r["net_flow_usd"]), 2))
        changed = set()
        for r in days_new:
            k = day_key(r["date"], r["total_usd"], r["funds_reported"], r["missing_funds"], r["preliminary"])
            if old.get(r["date"]) != k or old_f.get(r["date"], {}) != new_f.get(r["date"], {}):
                changed.add(r["date"])
        return changed


def connector(http: Http, conf: dict[str, Any] | None = None) -> Farside:
    return Farside(http, conf)
