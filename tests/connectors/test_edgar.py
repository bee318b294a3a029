"""SEC EDGAR: submissions JSON -> 8-K documents -> treasury_holdings. The submissions JSON and the 8-K
documents are written here from EDGAR's documented submissions format and the shape of Strategy's
"BTC Update" 8-Ks (table and older prose), not captured; their figures are the ones the snapshot
derived from the real filings (SOURCES.md: as of 2026-02-01, 713,502 BTC, $54.26 billion, $76,052; the
2024-03-10 prose filing 205,000 BTC, $6.91 billion, $33,706)."""

from __future__ import annotations

import datetime as dt

import httpx
import respx

from btcstress.connectors.edgar import Edgar
from btcstress.connectors.http import Http
from btcstress.parsers import sec_8k_html
from btcstress.store import Store

DATA, WWW = "https://data.sec.test", "https://www.sec.test"
UA = "btcstress-tests/0.1 tests@example.org"
CONF = {"edgar": {"url": DATA, "archives_url": WWW, "user_agent": UA}}

TABLE_8K = """<html><body>
<p>Item 8.01 Other Events.</p><p><b>BTC Update</b></p>
<p>During the period between January 26, 2026 and February 1, 2026, Strategy Inc acquired 855 bitcoins ...</p>
<table>
<tr><td></td><td colspan="3">BTC Acquired During Period</td><td colspan="3">As of 2/1/2026</td></tr>
<tr><td>Period</td><td>BTC Acquired</td><td>Aggregate Purchase Price (in millions)</td><td>Average Purchase Price</td>
<td>Aggregate BTC Holdings</td><td>Aggregate Purchase Price (in billions)</td><td>Average Purchase Price</td></tr>
<tr><td>1/26/2026 - 2/1/2026</td><td>855</td><td>$</td><td>75.3</td><td>$</td><td>87,974</td><td>713,502</td>
<td>$</td><td>54.26</td><td>$</td><td>76,052</td></tr>
</table>
<p>The aggregate purchase price and average purchase price are inclusive of fees and expenses.</p>
</body></html>"""

PROSE_8K = """<html><body><p>Item 8.01 Other Events.</p>
<p>As of March 10, 2024, MicroStrategy, together with its subsidiaries, held an aggregate of approximately
205,000 bitcoins, which were acquired at an aggregate purchase price of approximately $6.91 billion and an
average purchase price of approximately $33,706 per bitcoin, inclusive of fees and expenses.</p></body></html>"""

OTHER_8K = "<html><body><p>Item 5.02 Departure of Directors or Certain Officers.</p></body></html>"


def submissions():
    rows = [("0001193125-24-064331", "2024-03-11", "8-K", "d8k.htm", "8.01"),
            ("0001193125-26-010000", "2026-01-15", "10-K", "d10k.htm", ""),
            ("0001193125-26-030000", "2026-01-30", "8-K", "d5_02.htm", "5.02"),
            ("0001193125-26-032731", "2026-02-02", "8-K", "d8k.htm", "7.01,8.01")]
    cols = ("accessionNumber", "filingDate", "form", "primaryDocument", "items")
    return {"cik": "1050446", "name": "Strategy Inc", "filings": {
        "recent": {c: [r[i] for r in rows] for i, c in enumerate(cols)}, "files": []}}


def docs(request):
    path = request.url.path
    assert request.headers["User-Agent"] == UA
    if "000119312524064331" in path:
        return httpx.Response(200, text=PROSE_8K)
    if "000119312526032731" in path:
        return httpx.Response(200, text=TABLE_8K)
    return httpx.Response(200, text=OTHER_8K)


def test_table_form_gives_the_filings_figures():
    f = sec_8k_html.extract(TABLE_8K)
    assert f == {"as_of": dt.date(2026, 2, 1), "btc": 713502.0, "cost": 54.26e9, "avg": 76052.0, "p_btc": 855.0,
                 "p_cost": 75.3e6, "p_avg": 87974.0, "form": "table"}


def test_prose_form_gives_the_filings_figures():
    f = sec_8k_html.extract(PROSE_8K)
    assert (f["as_of"], f["btc"], f["cost"], f["avg"], f["form"]) == (dt.date(2024, 3, 10), 205000.0, 6.91e9, 33706.0,
                                                                        "prose")


def test_inconsistent_figures_are_quarantined_by_the_snapshot_checks():
    bad = TABLE_8K.replace("76,052", "86,052")
    p = sec_8k_html.parse(bad, "o", filing_date=dt.date(2026, 2, 2), document="x")
    assert "treasury_holdings" not in p.rows and p.quarantine[0]["field"] == "aggregate_cost_usd"


@respx.mock
def test_connector_reads_strategys_8ks_with_the_user_agent_edgar_requires(tmp_path):
    sub = respx.get(f"{DATA}/submissions/CIK0001050446.json").mock(return_value=httpx.Response(200, json=submissions()))
    doc = respx.get(url__regex=rf"{WWW}/Archives/edgar/data/1050446/.*").mock(side_effect=docs)
    with Store(tmp_path / "s.duckdb") as store, Http(default_rate=1e9) as h:
        e = Edgar(h, CONF)
        assert all(r <= 10 for r in h.rate_limits.values())  # EDGAR's fair-access limit
        rep = e.run(store, since=dt.datetime(2024, 1, 1))
        t = store.table("treasury_holdings").order_by("as_of").execute()
        assert sub.calls[0].request.headers["User-Agent"] == UA
        assert doc.call_count == 3  # the two BTC Updates and the unrelated 8-K; the 10-K is not fetched
        assert rep.skipped == 1 and rep.quarantined == 0
        assert list(t["btc"]) == [205000.0, 713502.0]
        last = t.iloc[-1]
        assert (last["cost_usd"], last["avg_cost_usd"], last["period_btc"]) == (54.26e9, 76052.0, 855.0)
        assert last["document"] == "0001193125-26-032731/d8k.htm" and last["basis"] == "filing"
        assert last["available_at"] == dt.datetime(2026, 2, 3)  # the end of the filing day
        # the next run resumes at the last filing day: only that day's filing is read again
        before = doc.call_count
        e.run(store, since=dt.datetime(2024, 1, 1))
        assert doc.call_count - before == 1 and store.table("treasury_holdings").count().execute() == 2
