"""ETF importers: the Farside table (CSV export and web layout), Artemis AUM and weekly flows.

Real files are read in place from the shared snapshot; the web-layout tables below are tiny tables
written by hand in Farside's format (not data from any source).
"""

from __future__ import annotations

import datetime as dt

import pytest

from btcstress.errors import ParseError
from btcstress.parsers import artemis_etf, etf_funds, farside

M = 1_000_000


def usd(millions: float) -> float:
    """US$ millions as the importer stores them (USD, rounded to cents)."""
    return round(millions * M, 2)


def _days(parsed):
    """Each day's latest (final) version."""
    return {r["date"]: r for r in sorted(parsed.rows["etf_flow_days"], key=lambda r: r["vintage"])}


def _flows(parsed):
    """Each day's and fund's value in the latest version."""
    return {(r["date"], r["fund"]): r["net_flow_usd"]
            for r in sorted(parsed.rows["etf_flows"], key=lambda r: r["vintage"])}


@pytest.fixture(scope="module")
def final(snapshot_dir):
    text = (snapshot_dir / "etf/farside_btc_etf_flows_daily.csv").read_text()
    return farside.parse(text, "snapshot/etf/farside_btc_etf_flows_daily.csv")


def test_packaged_fund_table_knows_every_farside_ticker_and_launch_dates():
    funds = {f.ticker: f for f in etf_funds.packaged()}
    assert set(funds) == {"IBIT", "FBTC", "BITB", "ARKB", "BTCO", "EZBC", "BRRR", "HODL", "BTCW", "MSBT", "GBTC", "BTC"}
    assert funds["IBIT"].launch_date == dt.date(2024, 1, 11)
    assert funds["BTC"].launch_date == dt.date(2024, 7, 31)
    assert etf_funds.lookup()["bitcoin"].ticker == "BTC"  # Artemis' name for Grayscale's mini trust


def test_farside_final_table_imports_every_line_without_quarantine(final):
    assert final.lines_in == 579
    assert final.quarantine == []
    days = _days(final)
    assert len(days) == 579
    # Market holidays (e.g. MLK day 2024-01-15) are days with no flows, not dropped lines.
    assert days[dt.date(2024, 1, 15)]["funds_reported"] == 0
    assert sum(1 for d in days.values() if d["funds_reported"] == 0) == 16
    flows = _flows(final)
    assert flows[(dt.date(2026, 2, 5), "IBIT")] == usd(-175.3)
    assert flows[(dt.date(2026, 2, 4), "IBIT")] == usd(-373.4)
    assert days[dt.date(2026, 2, 5)]["total_usd"] == usd(-434.1)
    # The publication rule: each fund's flow counts from its usual time after 00:00 UTC of the next
    # day (etf_funds.csv): IBIT last, so the day is final at IBIT's time, preliminary before.
    funds = {f.ticker: f for f in etf_funds.packaged()}
    assert days[dt.date(2026, 2, 5)]["vintage"] == funds["IBIT"].published(dt.date(2026, 2, 5))
    versions = sorted((r for r in final.rows["etf_flow_days"] if r["date"] == dt.date(2026, 2, 5)),
                      key=lambda r: r["vintage"])
    assert [v["vintage"] for v in versions] == sorted({f.published(dt.date(2026, 2, 5)) for f in funds.values()
                                                       if f.launched_by(dt.date(2026, 2, 5))})
    early = versions[0]
    assert early["preliminary"] and early["missing_funds"] == "IBIT" and early["total_usd"] is None
    early_flows = [r["net_flow_usd"] for r in final.rows["etf_flows"]
                   if r["date"] == dt.date(2026, 2, 5) and r["vintage"] == early["vintage"] and r["fund"] != "IBIT"]
    assert sum(early_flows) == pytest.approx(usd(-434.1) - usd(-175.3))
    # Blank before a fund's launch is not an observation (BTC launched 2024-07-31, MSBT 2026-04-08).
    assert (dt.date(2024, 7, 30), "BTC") not in flows
    assert final.skipped["blank before launch (MSBT)"] == 576


def test_final_table_days_with_a_launched_fund_blank_are_preliminary(final):
    days = _days(final)
    prelim = {d: r["missing_funds"] for d, r in days.items() if r["preliminary"]}
    assert prelim == {dt.date(2024, 11, 20): "BTC", dt.date(2026, 4, 10): "MSBT"}
    assert _flows(final)[(dt.date(2026, 4, 10), "MSBT")] is None  # kept as "not yet reported"


WEB_HTML = """<html><body><p>Bitcoin ETF Flow (US$m)</p>
<table class="etf">
 <thead>
  <tr><th>Date</th><th>IBIT</th><th>FBTC</th><th>GBTC</th><th>BTC</th><th>Total</th></tr>
  <tr><td>Fee</td><td>0.25%</td><td>0.25%</td><td>1.50%</td><td>0.15%</td><td></td></tr>
 </thead>
 <tbody>
  <tr><td>03 Feb 2026</td><td>1,060.0</td><td>(148.7)</td><td>(56.6)</td><td>-</td><td>854.7</td></tr>
  <tr><td>04 Feb 2026</td><td>(373.4)</td><td>(86.4)</td><td>0.0</td><td>0.0</td><td>(459.8)</td></tr>
  <tr><td>05 Feb 2026</td><td>-</td><td>(109.5)</td><td>(75.4)</td><td>(35.2)</td><td>(220.1)</td></tr>
  <tr><td>Total</td><td>686.6</td><td>(344.6)</td><td>(132.0)</td><td>(35.2)</td><td>174.8</td></tr>
  <tr><td>Average</td><td>228.9</td><td>(114.9)</td><td>(44.0)</td><td>(17.6)</td><td>58.3</td></tr>
  <tr><td>Maximum</td><td>1,060.0</td><td>(86.4)</td><td>0.0</td><td>0.0</td><td>854.7</td></tr>
  <tr><td>Minimum</td><td>(373.4)</td><td>(148.7)</td><td>(75.4)</td><td>(35.2)</td><td>(459.8)</td></tr>
 </tbody>
</table></body></html>"""

WEB_TSV = "\n".join([
    "Date\tIBIT\tFBTC\tGBTC\tBTC\tTotal",
    "Fee\t0.25%\t0.25%\t1.50%\t0.15%\t",
    "03 Feb 2026\t1,060.0\t(148.7)\t(56.6)\t-\t854.7",
    "04 Feb 2026\t(373.4)\t(86.4)\t0.0\t0.0\t(459.8)",
    "05 Feb 2026\t-\t(109.5)\t(75.4)\t(35.2)\t(220.1)",
    "Total\t686.6\t(344.6)\t(132.0)\t(35.2)\t174.8",
    "Average\t228.9\t(114.9)\t(44.0)\t(17.6)\t58.3",
])


@pytest.mark.parametrize("text", [WEB_HTML, WEB_TSV], ids=["html", "tsv"])
def test_web_layout_parentheses_dashes_thousands_and_summary_rows(text):
    p = farside.parse(text, "web", published_at=dt.datetime(2026, 2, 5, 23, 30, tzinfo=dt.timezone.utc))
    assert p.quarantine == []
    flows, days = _flows(p), _days(p)
    assert set(days) == {dt.date(2026, 2, 3), dt.date(2026, 2, 4), dt.date(2026, 2, 5)}  # summary rows are not days
    assert p.skipped["summary row (Total/Average/Maximum/Minimum), not a day"] >= 2
    assert flows[(dt.date(2026, 2, 3), "IBIT")] == usd(1060.0)  # thousands separator
    assert flows[(dt.date(2026, 2, 3), "FBTC")] == usd(-148.7)  # parentheses = outflow
    assert flows[(dt.date(2026, 2, 3), "BTC")] is None  # "-" after launch = not yet reported
    assert days[dt.date(2026, 2, 3)]["missing_funds"] == "BTC"
    d5 = days[dt.date(2026, 2, 5)]
    assert (d5["preliminary"], d5["missing_funds"], d5["funds_reported"]) == (True, "IBIT", 3)
    assert d5["total_usd"] == usd(-220.1)
    assert d5["vintage"] == dt.datetime(2026, 2, 5, 23, 30)  # --published-at is the vintage


def test_malformed_cells_are_quarantined_with_their_reason_and_the_day_is_not_stored_half():
    text = "date,IBIT,FBTC,Total\n2026-02-04,-373.4,12.3x,-361.1\n2026-02-05,(1.0,0.0,-1.0\n2026-02-06,1.0,2.0,3.0\n"
    p = farside.parse(text, "t")
    reasons = {(q["line"], q["field"]): q["reason"] for q in p.quarantine}
    assert reasons[(2, "FBTC")] == "not a number (US$ millions)"
    assert reasons[(3, "IBIT")] == "not a number (US$ millions)"
    assert set(_days(p)) == {dt.date(2026, 2, 6)}
    assert (dt.date(2026, 2, 4), "IBIT") not in _flows(p)


def test_total_that_disagrees_with_the_funds_is_quarantined_with_both_numbers():
    text = "date,IBIT,FBTC,Total\n2026-02-04,-373.4,-86.4,-544.9\n2026-02-05,-175.3,-109.5,-284.9\n"
    p = farside.parse(text, "t")
    [q] = p.quarantine
    assert (q["line"], q["field"], q["target"]) == (2, "Total", "etf_flow_days")
    assert "-544.9" in q["reason"] and "-459.8" in q["reason"]
    days = _days(p)
    assert days[dt.date(2026, 2, 4)]["total_usd"] is None  # the funds are kept, the bad Total is not
    assert days[dt.date(2026, 2, 5)]["total_usd"] == usd(-284.9)  # within rounding of -284.8
    assert _flows(p)[(dt.date(2026, 2, 4), "IBIT")] == usd(-373.4)


def test_unknown_fund_column_and_flow_before_launch_are_refused():
    text = "date,IBIT,XBTC,MSBT,Total\n2026-02-05,-175.3,5.0,1.0,-169.3\n"
    p = farside.parse(text, "t")
    reasons = {q["field"]: q["reason"] for q in p.quarantine}
    assert "unknown fund column 'XBTC'" in reasons["XBTC"]
    assert "before MSBT's launch on 2026-04-08" in reasons["MSBT"]


def test_published_at_refuses_days_after_the_publication_instant():
    text = "date,IBIT,Total\n2026-02-05,-175.3,-175.3\n2026-02-06,231.6,231.6\n"
    p = farside.parse(text, "t", published_at=dt.datetime(2026, 2, 5, 23, 30, tzinfo=dt.timezone.utc))
    [q] = p.quarantine
    assert q["field"] == "date" and "after the publication instant" in q["reason"]


def test_publication_delay_is_a_parameter():
    text = "date,IBIT,Total\n2026-02-05,-175.3,-175.3\n"
    p = farside.parse(text, "t", publication_delay=dt.timedelta(hours=30))
    assert _days(p)[dt.date(2026, 2, 5)]["vintage"] == dt.datetime(2026, 2, 6, 6, 0)


def test_a_file_without_a_ticker_header_is_a_parse_error():
    with pytest.raises(ParseError):
        farside.parse("date,foo,bar\n2026-02-05,1,2\n", "t")


def test_html_cells_are_quarantined_with_the_line_of_their_row_in_the_page():
    bad = WEB_HTML.replace("<td>(86.4)</td>", "<td>(86.4x</td>").replace("<td>(75.4)</td>", "<td>7.5.4</td>")
    p = farside.parse(bad, "web", published_at=dt.datetime(2026, 2, 5, 23, 30, tzinfo=dt.timezone.utc))
    lines = bad.splitlines()
    where = {q["field"]: q["line"] for q in p.quarantine}
    assert "(86.4x" in lines[where["FBTC"] - 1] and "<td>7.5.4</td>" in lines[where["GBTC"] - 1]
    assert set(_days(p)) == {dt.date(2026, 2, 3)}  # the two refused days are not stored half


def test_html_without_end_tags_on_one_line_keeps_a_line_per_refused_row():
    # implied </td> and </tr> (valid HTML), the whole table on one line: rows are told apart by position
    page = ("<table><tr><th>Date<th>IBIT<th>FBTC<th>Total"
            "<tr><td>03 Feb 2026<td>1.0x<td>2.0<td>3.0"
            "<tr><td>04 Feb 2026<td>oops<td>2.0<td>3.0"
            "<tr><td>05 Feb 2026<td>1.0<td>2.0<td>3.0</table>")
    p = farside.parse(page, "one-line")
    assert sorted((q["line"], q["field"]) for q in p.quarantine) == [(2, "IBIT"), (3, "IBIT")]
    assert [q["raw"].split(" | ")[0] for q in sorted(p.quarantine, key=lambda q: q["line"])] == \
        ["03 Feb 2026", "04 Feb 2026"]
    assert _flows(p)[(dt.date(2026, 2, 5), "IBIT")] == usd(1.0)
    assert p.lines_in == 3  # every data row accounted for


def test_artemis_aum_maps_columns_to_tickers(snapshot_dir):
    p = artemis_etf.parse_aum((snapshot_dir / "etf/artemis_bitcoin_etfs_aum_daily.csv").read_text(), "a")
    assert p.quarantine == []
    aum = {(r["date"], r["fund"]): r["aum_usd"] for r in p.rows["etf_aum"]}
    assert {f for _, f in aum} == {"ARKB", "BITB", "BRRR", "BTC", "BTCO", "BTCW", "EZBC", "FBTC", "GBTC", "HODL", "IBIT"}
    assert aum[(dt.date(2026, 2, 5), "IBIT")] == pytest.approx(48_853_275_064.0)


def test_artemis_weekly_btc_flows_match_the_sum_of_farside_days(snapshot_dir, final):
    p = artemis_etf.parse_weekly_flows((snapshot_dir / "etf/artemis_crypto_etf_flows_weekly.csv").read_text(), "w")
    weekly = {(r["date"], r["asset"]): r["net_flow_usd"] for r in p.rows["etf_flows_weekly"]}
    assert weekly[(dt.date(2026, 2, 8), "btc")] == usd(-318.1)
    days = _days(final)
    week = sum(days[dt.date(2026, 2, d)]["total_usd"] for d in range(2, 7))
    assert week == pytest.approx(usd(-318.1))
