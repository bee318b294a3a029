"""Binance: kline history from the public data archive and the REST API, USD-M funding and open interest.

Klines (candles), per market (spot `binance`, USD-M perpetual `binance-usdm`), symbol and interval:
1. resume from the checkpoint (the last bar stored) or `since`;
2. whole calendar months that are over: the public archive's monthly zip
   (`data.binance.vision/data/{spot|futures/um}/monthly/klines/SYM/INT/SYM-INT-YYYY-MM.zip`), checked
   against its published `.CHECKSUM` (SHA-256); a month not yet archived falls back to the daily zips,
   then to REST;
3. the rest: REST klines (`/api/v3/klines` spot, `/fapi/v1/klines` USD-M), paged by startTime, only
   bars that have closed;
4. gap detection: the stored series between `since` and the last closed bar is compared with the
   expected grid; each hole is refetched over REST (backfill), and what is still missing afterwards
   (a venue outage: Binance has a few) is reported, never filled in.
Every payload goes through `parsers.binance_klines.parse` (the REST rows are the archive's 12 columns
as JSON, so they are written as CSV lines and parsed by the same code; the unit, ms or us, is detected).

Open interest and funding (USD-M): connectors/binance_usdm.py, run from here.
"""

from __future__ import annotations

import calendar
import datetime as dt
import hashlib
import io
import zipfile
from typing import Any

from btcstress.connectors import binance_usdm
from btcstress.connectors.base import (Connector, Progress, Request, SourceReport, backfill, missing_steps, no_progress,
                                       now_utc)
from btcstress.connectors.http import FetchError, Http
from btcstress.errors import ParseError
from btcstress.parsers import binance_klines
from btcstress.parsers.common import Parsed
from btcstress.store import Store, interval_length

NAME = "binance"
DEFAULTS: dict[str, Any] = {
    "spot_url": "https://api.binance.com",
    "usdm_url": "https://fapi.binance.com",
    "archive_url": "https://data.binance.vision",
    "symbol": "BTCUSDT",
    "markets": ["binance", "binance-usdm"],
    "intervals": ["1h", "1d"],
    "archive": True,
    "derivatives": True,
    "asset": "BTC",
}
# Per market: REST base key, path, page limit, archive folder, request weight budget per minute.
MARKETS = {
    "binance": ("spot_url", "/api/v3/klines", 1000, "spot", 6000),
    "binance-usdm": ("usdm_url", "/fapi/v1/klines", 1500, "futures/um", 2400),
}


def _ms(t: dt.datetime) -> int:
    return int(calendar.timegm(t.timetuple()) * 1000 + t.microsecond // 1000)


def _month_start(t: dt.datetime) -> dt.datetime:
    return dt.datetime(t.year, t.month, 1)


def _next_month(t: dt.datetime) -> dt.datetime:
    return dt.datetime(t.year + (t.month == 12), t.month % 12 + 1, 1)


def _floor(t: dt.datetime, step: dt.timedelta) -> dt.datetime:
    epoch = dt.datetime(1970, 1, 1)
    return epoch + ((t - epoch) // step) * step


class Binance(Connector):
    name = NAME
    DEFAULTS = DEFAULTS

    def limit_rates(self) -> None:
        """Binance limits by request weight per minute (its used-weight header), not requests per second."""
        from urllib.parse import urlsplit
        for key, _, _, _, weight in MARKETS.values():
            self.http.weight_limits.setdefault(urlsplit(self.conf[key]).netloc, weight)

    # -- public ---------------------------------------------------------------------------------

    def run(self, store: Store, *, since: dt.datetime, until: dt.datetime | None = None,
            progress: Progress = no_progress) -> SourceReport:
        report = SourceReport(NAME)
        until = until or now_utc()
        series = [(m, self.conf["symbol"], i) for m in self.conf["markets"] for i in self.conf["intervals"]]
        steps = len(series) + (2 if self.conf["derivatives"] else 0)
        done = 0
        for venue, symbol, interval in series:
            progress(f"{venue} {symbol} {interval}", done, steps)
            self.klines(store, venue, symbol, interval, since=since, until=until, report=report)
            done += 1
        if self.conf["derivatives"]:
            progress("funding", done, steps)
            self.funding(store, since=since, until=until, report=report)
            done += 1
            progress("open interest", done, steps)
            self.open_interest(store, until=until, report=report)
            done += 1
        progress("done", steps, steps)
        report.requests = self.http.stats.requests
        return report

    def klines(self, store: Store, venue: str, symbol: str, interval: str, *, since: dt.datetime,
               until: dt.datetime, report: SourceReport) -> None:
        step = interval_length(interval)
        key = f"klines:{venue}:{symbol}:{interval}"
        since = _floor(since, step)
        last_closed = _floor(until, step) - step  # the last bar whose close is <= until
        if last_closed < since:
            return
        resume = self.checkpoint_instant(store, key)
        start = since if resume is None or resume < since else resume + step
        cursor = start
        # Whole months that are over: the archive (cheaper, and what Binance asks bulk users to use).
        if self.conf["archive"]:
            m = _month_start(cursor)
            while _next_month(m) <= _floor(until, dt.timedelta(days=1)) - dt.timedelta(days=1) and m <= last_closed:
                if cursor > m and cursor >= _next_month(m):
                    m = _next_month(m)
                    continue
                got = self._archive_month(store, venue, symbol, interval, m, report)
                if not got:
                    break  # not archived yet: REST from here
                cursor = max(cursor, _next_month(m))
                m = _next_month(m)
        if cursor <= last_closed:
            self._rest(store, venue, symbol, interval, cursor, last_closed, report)
        # Gap detection over the whole requested range, then backfill each hole over REST.
        backfill(report, f"{venue} {symbol} {interval}", "bar(s)", step,
                 holes=lambda: self._holes(store, venue, symbol, interval, since, last_closed + step),
                 refetch=lambda a, b: self._rest(store, venue, symbol, interval, a, b, report))
        last = self._last_stored(store, venue, symbol, interval)
        if last is not None:
            self.set_checkpoint(store, key, last.isoformat())

    def funding(self, store: Store, *, since: dt.datetime, until: dt.datetime, report: SourceReport) -> None:
        binance_usdm.funding(self.http, self.conf, store, since=since, until=until, report=report)

    def open_interest(self, store: Store, *, until: dt.datetime, report: SourceReport) -> None:
        binance_usdm.open_interest(self.http, self.conf, store, until=until, report=report)

    # -- klines internals -------------------------------------------------------------------------

    def klines_request(self, venue: str, symbol: str, interval: str, start: dt.datetime,
                       last_open: dt.datetime) -> Request:
        """One REST page of klines with open_time in [start, last_open]."""
        base_key, path, limit, _, _ = MARKETS[venue]
        return Request(self.conf[base_key] + path, params={"symbol": symbol, "interval": interval,
                                                            "startTime": _ms(start), "endTime": _ms(last_open),
                                                            "limit": limit})

    def _parse(self, text: str, origin: str, venue: str, symbol: str) -> Parsed:
        return binance_klines.parse(text, origin, venue=venue, symbol=symbol)

    def _archive_month(self, store: Store, venue: str, symbol: str, interval: str, month: dt.datetime,
                       report: SourceReport) -> bool:
        folder = MARKETS[venue][3]
        name = f"{symbol}-{interval}-{month:%Y-%m}"
        url = f"{self.conf['archive_url']}/data/{folder}/monthly/klines/{symbol}/{interval}/{name}.zip"
        text = self._zip(url, name)
        if text is None:
            # Not archived as a month yet (the first days of a month): the month's daily files.
            parts = []
            d = month
            while d < _next_month(month) and d < _floor(now_utc(), dt.timedelta(days=1)):
                dname = f"{symbol}-{interval}-{d:%Y-%m-%d}"
                durl = f"{self.conf['archive_url']}/data/{folder}/daily/klines/{symbol}/{interval}/{dname}.zip"
                t = self._zip(durl, dname)
                if t is None:
                    return False
                parts.append((durl, t))
                d += dt.timedelta(days=1)
            self.store(store, [self._parse(t, f"binance-archive:{u}", venue, symbol) for u, t in parts], report)
            return True
        self.store(store, self._parse(text, f"binance-archive:{url}", venue, symbol), report)
        return True

    def _zip(self, url: str, name: str) -> str | None:
        resp = self.fetch(Request(url), ok=(200, 404))
        if resp.status_code == 404:
            return None
        data = resp.content
        check = self.fetch(Request(url + ".CHECKSUM"), ok=(200, 404))
        if check.status_code == 200 and check.text.strip():
            expected = check.text.split()[0].lower()
            actual = hashlib.sha256(data).hexdigest()
            if expected != actual:
                raise FetchError(f"{url}: SHA-256 {actual} does not match the published .CHECKSUM {expected}")
        try:
            with zipfile.ZipFile(io.BytesIO(data)) as z:
                members = [n for n in z.namelist() if n.endswith(".csv")]
                if not members:
                    raise ParseError(f"{url}: no CSV inside the zip")
                return z.read(members[0]).decode("utf-8-sig")
        except zipfile.BadZipFile as exc:
            raise ParseError(f"{url}: not a zip file ({exc})") from None

    def _rest(self, store: Store, venue: str, symbol: str, interval: str, start: dt.datetime,
              last_open: dt.datetime, report: SourceReport) -> None:
        """REST klines with open_time in [start, last_open], paged; stored page by page."""
        limit = MARKETS[venue][2]
        step = interval_length(interval)
        cursor = start
        while cursor <= last_open:
            req = self.klines_request(venue, symbol, interval, cursor, last_open)
            url, params = req.url, req.params
            rows = self.fetch(req).json()
            if not isinstance(rows, list):
                raise FetchError(f"{url}: expected a JSON array of klines, got {str(rows)[:120]}")
            closed = [r for r in rows if isinstance(r, list) and len(r) >= 7
                      and dt.datetime(1970, 1, 1) + dt.timedelta(milliseconds=_open_ms(r[0])) <= last_open]
            if not closed:
                break
            text = "\n".join(",".join(str(v) for v in r) for r in closed)
            origin = f"binance-rest:{url}?symbol={symbol}&interval={interval}&startTime={params['startTime']}"
            self.store(store, self._parse(text, origin, venue, symbol), report)
            last = dt.datetime(1970, 1, 1) + dt.timedelta(milliseconds=_open_ms(closed[-1][0]))
            if len(rows) < limit:
                break
            cursor = last + step

    def _holes(self, store: Store, venue: str, symbol: str, interval: str, start: dt.datetime,
               end: dt.datetime) -> list[tuple[dt.datetime, dt.datetime]]:
        c = store.table("candles")
        have = c.filter((c.venue == venue) & (c.symbol == symbol) & (c.interval == interval)
                        & (c.open_time >= start) & (c.open_time < end)).select("open_time").execute()
        return missing_steps((t.to_pydatetime() for t in have["open_time"]), start, end, interval_length(interval))

    def _last_stored(self, store: Store, venue: str, symbol: str, interval: str) -> dt.datetime | None:
        c = store.table("candles")
        v = c.filter((c.venue == venue) & (c.symbol == symbol) & (c.interval == interval)).open_time.max().execute()
        import pandas as pd
        return None if v is None or pd.isna(v) else pd.Timestamp(v).to_pydatetime()


def _open_ms(v) -> int:
    """A kline open time in ms (REST spot may answer in microseconds when asked: normalise)."""
    n = int(v)
    return n // 1000 if n >= 10**15 else n


def connector(http: Http, conf: dict[str, Any] | None = None) -> Binance:
    return Binance(http, conf)


__all__ = ["Binance", "DEFAULTS", "NAME", "connector"]
