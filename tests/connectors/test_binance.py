"""Binance klines (archive zip + REST, resume, gap backfill) and USD-M funding / open interest.

The archive and REST payloads of test_archive_* are the real Binance archive rows of the snapshot
(../shared/data/price, read in place and zipped in memory as the archive serves them); the REST
rows of the other tests are written here from Binance's documented kline array
([open time, open, high, low, close, volume, close time, quote volume, trades, taker buy base,
taker buy quote, ignore]).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import json
import zipfile

import httpx
import pytest
import respx

from btcstress.connectors.base import SourceReport, get_checkpoint
from btcstress.connectors.binance import Binance
from btcstress.connectors.http import FetchError, Http, RetryPolicy
from btcstress.parsers import binance_derivatives
from btcstress.store import Store
from tests.conftest import SNAPSHOT, missing

SPOT = "https://spot.test"
FAPI = "https://fapi.test"
ARCHIVE = "https://archive.test"
H = 3_600_000


def conf(**kw):
    c = {"spot_url": SPOT, "usdm_url": FAPI, "archive_url": ARCHIVE, "markets": ["binance"], "intervals": ["1h"],
         "archive": False, "derivatives": False}
    c.update(kw)
    return {"binance": c}


def http(sleeps=None):
    return Http(policy=RetryPolicy(attempts=3, backoff=0.01), sleep=(sleeps.append if sleeps is not None else lambda s: None),
                default_rate=1e9)


def ms(t: dt.datetime) -> int:
    return int((t - dt.datetime(1970, 1, 1)).total_seconds() * 1000)


def bar(open_ms: int, px: float = 90_000.0) -> list:
    return [open_ms, f"{px:.2f}", f"{px + 50:.2f}", f"{px - 50:.2f}", f"{px + 10:.2f}", "12.5", open_ms + H - 1,
            "1125000.0", 1000, "6.0", "540000.0", "0"]


def kline_server(drop: set[int] | None = None):
    """A REST klines handler answering from startTime to endTime; `drop` bars are missing on the first ask."""
    calls = []
    dropped = set(drop or ())

    def handler(request):
        q = request.url.params
        start, end, limit = int(q["startTime"]), int(q["endTime"]), int(q["limit"])
        calls.append((start, end))
        rows = []
        t = start
        while t <= end and len(rows) < limit:
            if t in dropped:
                dropped.discard(t)
            else:
                rows.append(bar(t, 90_000 + (t // H) % 100))
            t += H
        return httpx.Response(200, json=rows)
    return handler, calls


@respx.mock
def test_rest_klines_are_stored_and_a_missing_hour_is_backfilled(tmp_path):
    t0 = dt.datetime(2026, 11, 20)
    handler, calls = kline_server(drop={ms(t0) + 3 * H})
    respx.get(f"{SPOT}/api/v3/klines").mock(side_effect=handler)
    with Store(tmp_path / "s.duckdb") as store, http() as h:
        rep = Binance(h, conf()).run(store, since=t0, until=t0 + dt.timedelta(hours=6, minutes=30))
        c = store.table("candles").order_by("open_time").execute()
        assert list(c["open_time"].dt.hour) == [0, 1, 2, 3, 4, 5]  # the open 06:00 bar is not stored
        assert rep.gaps_found == 1 and rep.gaps_filled == 1
        assert calls[1] == (ms(t0) + 3 * H, ms(t0) + 3 * H)  # the backfill asked for exactly the hole
        assert get_checkpoint(store, "binance", "klines:binance:BTCUSDT:1h") == "2026-11-20T05:00:00"
        assert c["origin"].str.startswith("binance-rest:").all()


@respx.mock
def test_a_second_run_resumes_after_the_checkpoint_and_adds_nothing_twice(tmp_path):
    t0 = dt.datetime(2026, 11, 20)
    handler, calls = kline_server()
    respx.get(f"{SPOT}/api/v3/klines").mock(side_effect=handler)
    with Store(tmp_path / "s.duckdb") as store, http() as h:
        b = Binance(h, conf())
        b.run(store, since=t0, until=t0 + dt.timedelta(hours=6, minutes=30))
        calls.clear()
        rep = b.run(store, since=t0, until=t0 + dt.timedelta(hours=8, minutes=30))
        assert calls == [(ms(t0) + 6 * H, ms(t0) + 7 * H)]
        assert rep.new == 2 and rep.gaps_found == 0
        assert store.table("candles").count().execute() == 8


@respx.mock
def test_rest_klines_survive_a_429_and_a_500(tmp_path):
    t0 = dt.datetime(2026, 11, 20)
    handler, _ = kline_server()
    answers = iter([httpx.Response(429, headers={"Retry-After": "3"}), httpx.Response(500)])
    respx.get(f"{SPOT}/api/v3/klines").mock(side_effect=lambda r: next(answers, None) or handler(r))
    sleeps = []
    with Store(tmp_path / "s.duckdb") as store, http(sleeps) as h:
        rep = Binance(h, conf()).run(store, since=t0, until=t0 + dt.timedelta(hours=3))
        assert store.table("candles").count().execute() == 3
    assert sleeps[0] == 3.0 and len(sleeps) == 2
    assert rep.new == 3


def _snapshot_rows():
    path = SNAPSHOT / "price" / "binance_spot_btcusdt_1h_2026-01_2026-02.csv"
    if not path.is_file():
        missing("snapshot not available")
    lines = path.read_text().splitlines()[1:]  # the archive files have no header
    jan = [l for l in lines if int(l.split(",")[0]) < 1769904000000000]
    feb1 = [l for l in lines if 1769904000000000 <= int(l.split(",")[0]) < 1769990400000000]
    return jan, feb1


def _zip(name: str, lines: list[str]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr(f"{name}.csv", "\n".join(lines) + "\n")
    return buf.getvalue()


@respx.mock
def test_archive_month_then_rest_on_real_binance_rows(tmp_path):
    jan, feb1 = _snapshot_rows()
    data = _zip("BTCUSDT-1h-2026-01", jan)
    base = f"{ARCHIVE}/data/spot/monthly/klines/BTCUSDT/1h/BTCUSDT-1h-2026-01.zip"
    respx.get(base).mock(return_value=httpx.Response(200, content=data))
    respx.get(base + ".CHECKSUM").mock(return_value=httpx.Response(
        200, text=f"{hashlib.sha256(data).hexdigest()}  BTCUSDT-1h-2026-01.zip\n"))
    rest_rows = [[int(v) if i in (0, 6, 8) else v for i, v in enumerate(l.split(","))] for l in feb1]
    respx.get(f"{SPOT}/api/v3/klines").mock(return_value=httpx.Response(200, json=rest_rows))
    with Store(tmp_path / "s.duckdb") as store, http() as h:
        rep = Binance(h, conf(archive=True)).run(store, since=dt.datetime(2026, 1, 1),
                                                 until=dt.datetime(2026, 2, 2, 0, 30))
        c = store.table("candles").execute()
    assert len(c) == 744 + 24 and rep.gaps_found == 0 and rep.quarantined == 0
    janc = c[c.open_time < "2026-02-01"]
    assert janc["low"].min() == 75719.9 and janc["high"].max() == 97924.49
    assert c[c.open_time >= "2026-02-01"]["low"].min() == 75700.0
    assert janc["origin"].str.endswith("BTCUSDT-1h-2026-01.zip").all()


@respx.mock
def test_archive_checksum_mismatch_is_refused(tmp_path):
    data = _zip("BTCUSDT-1h-2026-01", [",".join(map(str, bar(ms(dt.datetime(2026, 1, 1)))))])
    base = f"{ARCHIVE}/data/spot/monthly/klines/BTCUSDT/1h/BTCUSDT-1h-2026-01.zip"
    respx.get(base).mock(return_value=httpx.Response(200, content=data))
    respx.get(base + ".CHECKSUM").mock(return_value=httpx.Response(200, text="00" * 32 + "  x.zip"))
    with Store(tmp_path / "s.duckdb") as store, http() as h, pytest.raises(FetchError, match="CHECKSUM"):
        Binance(h, conf(archive=True)).klines(store, "binance", "BTCUSDT", "1h", since=dt.datetime(2026, 1, 1),
                                              until=dt.datetime(2026, 2, 3), report=SourceReport("b"))


@respx.mock
def test_a_month_not_yet_archived_falls_back_to_the_daily_zips(tmp_path):
    t0 = dt.datetime(2026, 10, 1)
    respx.get(url__regex=r".*/monthly/.*").mock(return_value=httpx.Response(404))
    respx.get(url__regex=r".*\.CHECKSUM$").mock(return_value=httpx.Response(404))

    def daily(request):
        day = dt.datetime.strptime(request.url.path.rsplit("-1h-", 1)[1][:10], "%Y-%m-%d")
        rows = [",".join(map(str, bar(ms(day) + k * H))) for k in range(24)]
        return httpx.Response(200, content=_zip("d", rows))
    respx.get(url__regex=r".*/daily/klines/.*\.zip$").mock(side_effect=daily)
    handler, _ = kline_server()
    respx.get(f"{SPOT}/api/v3/klines").mock(side_effect=handler)
    with Store(tmp_path / "s.duckdb") as store, http() as h:
        rep = Binance(h, conf(archive=True)).run(store, since=t0, until=dt.datetime(2026, 11, 2, 0, 10))
        n = store.table("candles").count().execute()
    assert n == (31 + 1) * 24 and rep.gaps_found == 0


def test_funding_is_averaged_per_complete_day_in_percent():
    day = dt.datetime(2026, 11, 20)
    events = [{"symbol": "BTCUSDT", "fundingTime": ms(day) + k * 8 * H, "fundingRate": r, "markPrice": "90000"}
              for k, r in enumerate(("0.00010000", "0.00005000", "-0.00003000"))]
    events.append({"symbol": "BTCUSDT", "fundingTime": ms(day) + 24 * H, "fundingRate": "0.0001", "markPrice": "1"})
    events.append({"symbol": "BTCUSDT", "fundingTime": ms(day) + 2 * H, "fundingRate": "abc"})
    p = binance_derivatives.parse_funding(json.dumps(events), "o", asset="BTC", complete_before=dt.date(2026, 11, 21))
    rows = p.rows["derivatives_daily"]
    assert len(rows) == 1 and rows[0]["date"] == dt.date(2026, 11, 20)
    assert rows[0]["funding_rate_pct"] == pytest.approx(100 * (0.0001 + 0.00005 - 0.00003) / 3)
    assert p.quarantine[0]["field"] == "fundingRate" and p.skipped["funding of a day not over yet"] == 1


@respx.mock
def test_funding_and_open_interest_connectors_store_daily_rows(tmp_path):
    day = dt.datetime(2026, 11, 20)
    respx.get(f"{FAPI}/fapi/v1/fundingRate").mock(return_value=httpx.Response(200, json=[
        {"symbol": "BTCUSDT", "fundingTime": ms(day) + k * 8 * H, "fundingRate": "0.00010000", "markPrice": "9e4"}
        for k in range(3)]))
    respx.get(f"{FAPI}/futures/data/openInterestHist").mock(return_value=httpx.Response(200, json=[
        {"symbol": "BTCUSDT", "sumOpenInterest": "80000", "sumOpenInterestValue": "7200000000", "timestamp": ms(day)},
        {"symbol": "BTCUSDT", "sumOpenInterest": "81000", "sumOpenInterestValue": "7300000000",
         "timestamp": ms(day) + 24 * H}]))
    with Store(tmp_path / "s.duckdb") as store, http() as h:
        rep = Binance(h, conf(markets=[], derivatives=True)).run(store, since=day, until=day + dt.timedelta(hours=25))
        d = store.table("derivatives_daily").order_by("origin").execute()
    assert rep.error is None
    assert list(d["funding_rate_pct"].dropna()) == [pytest.approx(0.01)]
    assert list(d["open_interest_usd"].dropna()) == [7.2e9]
    assert set(d["origin"]) == {"binance-usdm:/fapi/v1/fundingRate?symbol=BTCUSDT",
                                "binance-usdm:/futures/data/openInterestHist?symbol=BTCUSDT&period=1d"}
