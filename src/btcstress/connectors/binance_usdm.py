"""Binance USD-M funding and open interest (documented REST calls through httpx: two endpoints do not
justify ccxt's ~50 MB): `/fapi/v1/fundingRate` (paged, full history, resumed from its checkpoint: the
last complete day stored) and `/futures/data/openInterestHist` (period=1d, Binance keeps 30 days),
parsed by `parsers.binance_derivatives`. Run by the Binance connector (`derivatives: true`)."""

from __future__ import annotations

import calendar
import datetime as dt
import json
from typing import Any

from btcstress.connectors.base import SourceReport, checkpoint_instant, set_checkpoint, store_parsed
from btcstress.connectors.http import FetchError, Http
from btcstress.parsers import binance_derivatives
from btcstress.store import Store

NAME = "binance"  # checkpoints are the Binance connector's


def _ms(t: dt.datetime) -> int:
    return int(calendar.timegm(t.timetuple()) * 1000 + t.microsecond // 1000)


def funding(http: Http, conf: dict[str, Any], store: Store, *, since: dt.datetime, until: dt.datetime,
            report: SourceReport) -> None:
    """Funding events of the complete days from the checkpoint (or `since`) to `until`, paged."""
    symbol, asset = conf["symbol"], conf["asset"]
    key = f"funding:{symbol}"
    resume = checkpoint_instant(store, NAME, key)
    start = dt.datetime.combine((resume + dt.timedelta(days=1)).date() if resume and resume >= since
                                else since.date(), dt.time())
    end = dt.datetime.combine(until.date(), dt.time())  # complete days only
    if start >= end:
        return
    url = conf["usdm_url"] + "/fapi/v1/fundingRate"
    events: list = []
    cursor = start
    while cursor < end:
        resp = http.get(url, params={"symbol": symbol, "startTime": _ms(cursor), "endTime": _ms(end) - 1,
                                     "limit": 1000})
        page = resp.json()
        if not isinstance(page, list):
            raise FetchError(f"{url}: expected a JSON array, got {str(page)[:120]}")
        events += page
        if len(page) < 1000:
            break
        cursor = dt.datetime(1970, 1, 1) + dt.timedelta(milliseconds=int(page[-1]["fundingTime"]) + 1)
    origin = f"binance-usdm:/fapi/v1/fundingRate?symbol={symbol}"
    parsed = binance_derivatives.parse_funding(json.dumps(events), origin, asset=asset, complete_before=end.date())
    store_parsed(store, parsed, report)
    days = [r["date"] for r in parsed.rows.get("derivatives_daily", [])]
    if days:
        set_checkpoint(store, NAME, key, dt.datetime.combine(max(days), dt.time()).isoformat())


def open_interest(http: Http, conf: dict[str, Any], store: Store, *, until: dt.datetime,
                  report: SourceReport) -> None:
    """The daily open interest Binance keeps (30 days), complete days before `until`."""
    symbol, asset = conf["symbol"], conf["asset"]
    url = conf["usdm_url"] + "/futures/data/openInterestHist"
    resp = http.get(url, params={"symbol": symbol, "period": "1d", "limit": 30})
    origin = f"binance-usdm:/futures/data/openInterestHist?symbol={symbol}&period=1d"
    store_parsed(store, binance_derivatives.parse_open_interest(resp.text, origin, asset=asset,
                                                                complete_before=until.date()), report)
