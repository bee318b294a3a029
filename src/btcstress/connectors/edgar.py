"""SEC EDGAR: Strategy's 8-K filings -> treasury_holdings (parsing is parsers.sec_8k_html).

1. `GET https://data.sec.gov/submissions/CIK0001050446.json`: the company's filing index
   (`filings.recent` holds parallel arrays: accessionNumber, filingDate, form, primaryDocument, items);
2. each 8-K filed on or after `since` (and after the checkpoint) that was not processed yet:
   `GET https://www.sec.gov/Archives/edgar/data/<cik>/<accession without dashes>/<primaryDocument>`;
3. the document's BTC Update (table or prose) -> one holdings row, counted from the end of its filing
   day (treasury.parse_sec_8k). 8-Ks about other things yield nothing and are counted as skipped.
EDGAR's fair-access rules: a User-Agent naming the requester with a contact address (config
`sources.edgar.user_agent`; the default is a placeholder you should replace) and at most 10 requests
per second (the limiter holds it under `rate`, 8 by default).
The checkpoint keeps the latest filing date processed; filings of that day are looked at again on the
next run (idempotent), so a filing indexed late is not missed.
"""

from __future__ import annotations

import datetime as dt
from typing import Any
from urllib.parse import urlsplit

from btcstress.connectors.base import Connector, Progress, Request, SourceReport, no_progress
from btcstress.connectors.http import FetchError, Http
from btcstress.parsers import sec_8k_html

NAME = "edgar"
DEFAULTS: dict[str, Any] = {
    "url": "https://data.sec.gov",
    "archives_url": "https://www.sec.gov",
    "cik": "0001050446",  # Strategy Inc (formerly MicroStrategy)
    "entity": "Strategy",
    "user_agent": "btcstress/0.1 contact@example.org",
    "rate": 8.0,
    "forms": ["8-K", "8-K/A"],
}


class Edgar(Connector):
    name = NAME
    DEFAULTS = DEFAULTS

    def limit_rates(self) -> None:
        """EDGAR's fair-access limit (10 per second) holds whatever the config says."""
        for base in (self.conf["url"], self.conf["archives_url"]):
            self.http.rate_limits[urlsplit(base).netloc] = min(float(self.conf["rate"]), 10.0)
        self.headers = {"User-Agent": self.conf["user_agent"], "Accept-Encoding": "gzip, deflate"}

    def filings_request(self) -> Request:
        cik = str(self.conf["cik"]).zfill(10)
        return Request(f"{self.conf['url']}/submissions/CIK{cik}.json", headers=self.headers)

    def document_request(self, f: dict) -> Request:
        acc = f["accessionNumber"]
        return Request(f"{self.conf['archives_url']}/Archives/edgar/data/{int(self.conf['cik'])}/"
                       f"{acc.replace('-', '')}/{f['primaryDocument']}", headers=self.headers)

    def filings(self) -> list[dict]:
        req = self.filings_request()
        url = req.url
        data = self.fetch(req).json()
        recent = (data.get("filings") or {}).get("recent") or {}
        cols = ("accessionNumber", "filingDate", "form", "primaryDocument", "items")
        n = len(recent.get("accessionNumber") or [])
        if any(len(recent.get(c) or []) != n for c in cols[:4]):
            raise FetchError(f"{url}: filings.recent arrays of different lengths")
        return [{c: (recent.get(c) or [None] * n)[i] for c in cols} for i in range(n)]

    def run(self, store, *, since: dt.datetime, until: dt.datetime | None = None,
            progress: Progress = no_progress) -> SourceReport:
        report = SourceReport(NAME)
        progress("submissions", 0, None)
        resume = self.checkpoint(store, f"filed:{self.conf['cik']}")
        floor = max(since.date(), dt.date.fromisoformat(resume)) if resume else since.date()
        todo = [f for f in self.filings() if f["form"] in self.conf["forms"] and f["filingDate"]
                and dt.date.fromisoformat(f["filingDate"]) >= floor
                and (until is None or dt.date.fromisoformat(f["filingDate"]) <= until.date())]
        todo.sort(key=lambda f: (f["filingDate"], f["accessionNumber"]))
        origin = f"sec-edgar:CIK{str(self.conf['cik']).zfill(10)}"
        last_ok = None
        for n, f in enumerate(todo):
            progress(f"8-K {f['filingDate']}", n, len(todo))
            acc = f["accessionNumber"]
            req = self.document_request(f)
            doc = req.url
            try:
                html = self.fetch(req).text
            except FetchError as exc:
                report.notes.append(f"{acc}: {exc}")
                continue
            parsed = sec_8k_html.parse(html, origin, filing_date=dt.date.fromisoformat(f["filingDate"]),
                                       document=f"{acc}/{f['primaryDocument']}", entity=self.conf["entity"])
            # quarantine rows name the document itself
            for q in parsed.quarantine:
                q["file"] = doc
            self.store(store, parsed, report)
            last_ok = f["filingDate"]
        if last_ok:
            self.set_checkpoint(store, f"filed:{self.conf['cik']}", last_ok)
        progress("8-K", len(todo), len(todo) or 1)
        report.requests = self.http.stats.requests
        return report


def connector(http: Http, conf: dict[str, Any] | None = None) -> Edgar:
    return Edgar(http, conf)
