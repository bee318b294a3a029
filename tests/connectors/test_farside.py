"""Farside page fetches -> a new vintage only for the days that changed. The page bodies are the real
Farside table of the snapshot (read in place; the parser reads the CSV layout as well as the HTML one),
and the same table as it stood before IBIT reported 2026-02-05 (IBIT blank, Total -258.8: the
preliminary figure SOURCES.md explains), plus a small HTML page written in Farside's web layout."""

from __future__ import annotations

import datetime as dt

import httpx
import respx

from btcstress.connectors.farside import Farside
from btcstress.connectors.http import Http
from btcstress.metrics.context import Context
from btcstress.metrics import etf
from btcstress.store import Store
from tests.conftest import SNAPSHOT, missing, utc

URL = "https://farside.test/bitcoin-etf-flow-all-data/"
CONF = {"farside": {"url": URL, "rate": 1e9}}


def _final() -> str:
    p = SNAPSHOT / "etf" / "farside_btc_etf_flows_daily.csv"
    if not p.is_file():
        missing("snapshot not available")
    return p.read_text()


def _upto(text: str, last: str) -> str:
    """The table as it stood on the morning after `last`: rows up to that day (header kept)."""
    lines = text.splitlines()
    return "\n".join([lines[0]] + [l for l in lines[1:] if l[:10] <= last]) + "\n"


def _before_ibit(text: str) -> str:
    out = []
    for line in text.splitlines():
        if line.startswith("2026-02-05,"):
            cells = line.split(",")
            cells[1] = ""  # IBIT not reported yet
            cells[-1] = "-258.8"
            line = ",".join(cells)
        out.append(line)
    return "\n".join(out) + "\n"


def _fetch(store, body: str, at: dt.datetime):
    with respx.mock:
        respx.get(URL).mock(return_value=httpx.Response(200, text=body))
        with Http(default_rate=1e9) as h:
            return Farside(h, CONF).run(store, since=dt.datetime(2024, 1, 1), fetched_at=at)


def _net_flow(store, at):
    ctx = Context(store=store, as_of=at)
    return next(f for f in etf.findings(ctx) if f.id == "etf.net_flow_usd")


def test_preliminary_then_final_vintage_only_for_the_changed_day(tmp_path):
    final = _upto(_final(), "2026-02-05")
    v1, v2 = dt.datetime(2026, 2, 6, 0, 30), dt.datetime(2026, 2, 6, 14, 0)
    with Store(tmp_path / "s.duckdb") as store:
        r1 = _fetch(store, _before_ibit(final), v1)
        assert r1.quarantined == 0 and store.table("etf_flow_days").count().execute() == 535
        r_same = _fetch(store, _before_ibit(final), v1 + dt.timedelta(minutes=15))
        assert r_same.new == 0 and "unchanged" in r_same.notes[0]
        r2 = _fetch(store, final, v2)
        assert "1 day(s) changed" in r2.notes[0]
        days = store.table("etf_flow_days")
        d = days.filter(days.date == dt.date(2026, 2, 5)).order_by("vintage").execute()
        assert list(d["preliminary"]) == [True, False] and list(d["missing_funds"]) == ["IBIT", ""]
        assert list(d["total_usd"]) == [-258_800_000.0, -434_100_000.0]
        assert days.count().execute() == 536  # one new row: the day that changed
        # as of the morning the brief reads the preliminary vintage; after the update, the final one
        morning, later = _net_flow(store, utc(2026, 2, 6, 8)), _net_flow(store, utc(2026, 2, 6, 15))
        assert round(morning.value / 1e6, 1) == -258.8 and "IBIT" in (morning.note or "")
        assert round(later.value / 1e6, 1) == -434.1


HTML = """<html><body><table>
<tr><th></th><th>IBIT</th><th>FBTC</th><th>GBTC</th><th>Total</th></tr>
<tr><td>Fee</td><td>0.25%</td><td>0.25%</td><td>1.50%</td><td></td></tr>
<tr><td>20 Nov 2026</td><td>(12.5)</td><td>3.0</td><td>-</td><td>(9.5)</td></tr>
<tr><td>Total</td><td>1,000.0</td><td>2.0</td><td>3.0</td><td>1,005.0</td></tr>
</table></body></html>"""


def test_html_page_in_farsides_layout_stores_a_vintage_at_fetch_time(tmp_path):
    at = dt.datetime(2026, 11, 21, 1, 0)
    with Store(tmp_path / "s.duckdb") as store:
        r = _fetch(store, HTML, at)
        f = store.table("etf_flows").order_by("fund").execute()
    assert r.quarantined == 0
    assert list(f["fund"]) == ["FBTC", "GBTC", "IBIT"]
    assert list(f["net_flow_usd"].fillna(0)) == [3_000_000.0, 0, -12_500_000.0]
    assert f["net_flow_usd"].isna().tolist() == [False, True, False]  # GBTC not reported yet
    assert (f["vintage"] == at).all() and (f["available_at"] == at).all()
