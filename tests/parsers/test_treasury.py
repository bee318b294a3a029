"""Treasury importers: 8-K holdings, Artemis holdings and EV/NAV, DefiLlama snapshot, stock bars."""

from __future__ import annotations

import datetime as dt

import pytest

from btcstress.parsers import treasury

H8K = ("as_of,aggregate_btc,aggregate_cost_usd,aggregate_avg_price_usd,period_btc_acquired,period_cost_usd,"
       "period_avg_price_usd,sec_8k_filing_date,sec_8k_file\n")


def _rows(parsed, target="treasury_holdings"):
    return parsed.rows.get(target, [])


# -- 8-K -------------------------------------------------------------------------------------------

def test_8k_filing_counts_from_the_end_of_its_filing_day():
    p = treasury.parse_sec_8k(H8K + "2026-03-01,1000,50000000,50000,10,600000,60000,2026-03-02,8k-x.html\n", "t")
    (row,) = _rows(p)
    assert row["entity"] == "Strategy" and row["basis"] == "filing"
    assert row["as_of"] == dt.date(2026, 3, 1) and row["filing_date"] == dt.date(2026, 3, 2)
    assert row["available_at"] == dt.datetime(2026, 3, 3)
    assert row["btc"] == 1000 and row["cost_usd"] == 50e6 and row["avg_cost_usd"] == 50000
    assert row["period_btc"] == 10 and row["document"] == "8k-x.html"
    assert not p.quarantine


def test_8k_cost_not_equal_to_holdings_times_average_is_quarantined_with_reason():
    p = treasury.parse_sec_8k(H8K + "2026-03-01,1000,60000000,50000,,,,2026-03-02,8k-x.html\n", "t")
    assert not _rows(p)
    (q,) = p.quarantine
    assert q["field"] == "aggregate_cost_usd" and "inconsistent with holdings x average" in q["reason"]
    assert q["line"] == 2


def test_8k_period_cost_rounded_to_its_stated_precision_is_kept():
    # The real 2025-12-31 filing: 3 BTC at $88,210 written as "$0.3 million".
    p = treasury.parse_sec_8k(H8K + "2025-12-31,672500,50440000000,74997,3,300000,88210,2026-01-05,8k.html\n", "t")
    assert len(_rows(p)) == 1 and not p.quarantine


def test_8k_period_cost_off_beyond_its_precision_is_quarantined():
    p = treasury.parse_sec_8k(H8K + "2025-12-31,672500,50440000000,74997,3,310000,88210,2026-01-05,8k.html\n", "t")
    assert not _rows(p) and p.quarantine[0]["field"] == "period_cost_usd"


@pytest.mark.parametrize("line,field", [
    ("2026-03-01,0,50000000,50000,,,,2026-03-02,f", "aggregate_btc"),
    ("2026-03-01,-5,50000000,50000,,,,2026-03-02,f", "aggregate_btc"),
    ("2026-03-03,1000,50000000,50000,,,,2026-03-02,f", "sec_8k_filing_date"),
    ("2025-01-01,1000,50000000,50000,,,,2026-03-02,f", "as_of"),
    ("2099-03-01,1000,50000000,50000,,,,2099-03-02,f", "as_of"),
    ("2026-03-01,1000,abc,50000,,,,2026-03-02,f", "aggregate_cost_usd"),
])
def test_8k_bad_rows_go_to_quarantine_with_the_field(line, field):
    p = treasury.parse_sec_8k(H8K + line + "\n", "t")
    assert not _rows(p) and p.quarantine[0]["field"] == field


def test_real_8k_file_imports_every_filing_and_the_february_anchor(snapshot_dir):
    text = (snapshot_dir / "treasury/mstr_btc_holdings_from_sec_8k.csv").read_text()
    p = treasury.parse_sec_8k(text, "snapshot/treasury/mstr_btc_holdings_from_sec_8k.csv")
    rows = _rows(p)
    assert p.lines_in == 64 and len(rows) == 64 and not p.quarantine
    feb = next(r for r in rows if r["as_of"] == dt.date(2026, 2, 1))
    assert (feb["btc"], feb["avg_cost_usd"], feb["cost_usd"]) == (713502, 76052, 54.26e9)
    assert feb["filing_date"] == dt.date(2026, 2, 2) and feb["available_at"] == dt.datetime(2026, 2, 3)
    assert feb["document"] == "8k-2026-02-02-032731.html"


# -- Artemis ---------------------------------------------------------------------------------------

AH = "date,Strategy - Number of Tokens Held,Strive Asset Management - Number of Tokens Held,Unknown Co - Number of Tokens Held\n"


def test_artemis_holdings_map_columns_to_canonical_entities_and_count_from_18h_the_next_day():
    p = treasury.parse_artemis_holdings(AH + "2026-02-02,713502,0,\n2026-02-03,713502,100.5,7\n", "t")
    rows = _rows(p)
    assert {(r["entity"], r["as_of"], r["btc"]) for r in rows} == {
        ("Strategy", dt.date(2026, 2, 2), 713502), ("Strategy", dt.date(2026, 2, 3), 713502),
        ("Strive", dt.date(2026, 2, 3), 100.5), ("Unknown Co", dt.date(2026, 2, 3), 7)}
    assert all(r["cost_usd"] is None and r["basis"] == "daily" for r in rows)
    # announced at the earliest 18:00 UTC the day after the row's date (docs/DATA.md, Artemis)
    assert rows[0]["available_at"] == dt.datetime(2026, 2, 3, 18, 0)
    assert p.skipped["zero before the first holding (Strive Asset Management - Number of Tokens Held)"] == 1
    assert p.skipped["blank cell (Unknown Co - Number of Tokens Held)"] == 1


def test_artemis_holdings_falling_to_zero_or_negative_are_quarantined():
    p = treasury.parse_artemis_holdings(AH + "2026-02-02,10,5,\n2026-02-03,-1,0,\n", "t")
    assert {q["reason"] for q in p.quarantine} == {"negative holdings", "holdings fell to zero after being positive"}


def test_real_artemis_holdings_give_strategy_713502_on_the_filing_day(snapshot_dir):
    p = treasury.parse_artemis_holdings(
        (snapshot_dir / "treasury/artemis_btc_treasury_holdings_daily.csv").read_text(), "t")
    rows = _rows(p)
    assert not p.quarantine and p.lines_in == 1483
    assert {r["entity"] for r in rows} == {"Strategy", "Metaplanet", "Twenty One Capital", "Nakamoto Holdings",
                                           "Strive", "American Bitcoin", "Bitcoin Standard Treasury Company"}
    by = {(r["entity"], r["as_of"]): r["btc"] for r in rows}
    assert by[("Strategy", dt.date(2026, 1, 30))] == 712657  # Artemis differs from the 8-K's 712,647
    assert by[("Strategy", dt.date(2026, 2, 2))] == 713502


def test_artemis_ev_nav_skips_leading_non_positive_and_keeps_later_negative():
    text = ("date,Strategy - Fully Diluted EV / Nav,Strive Asset Management - Fully Diluted EV / Nav\n"
            "2025-05-01,1.5,0.0\n2025-05-02,1.4,2.0\n2025-05-03,1.3,-0.05\n")
    p = treasury.parse_artemis_ev_nav(text, "t")
    rows = _rows(p, "treasury_valuation_daily")
    assert [(r["entity"], r["value"]) for r in rows if r["entity"] == "Strive"] == [("Strive", 2.0), ("Strive", -0.05)]
    assert all(r["measure"] == "fd_ev_nav" for r in rows) and len(rows) == 5


# -- DefiLlama -------------------------------------------------------------------------------------

DH = "ticker,name,type,price,priceChange24h,volume24h,mcapRealized,realized_mNAV,totalUsdValue,totalCost,holdings\n"
PUB = dt.datetime(2026, 4, 15)


def _dl(ticker, name, holdings, mnav="1.1"):
    import csv
    import io
    buf = io.StringIO()
    csv.writer(buf).writerow([ticker, name, "Stock", "1", "", "", "", mnav, "", "", holdings])
    return buf.getvalue()


def test_defillama_maps_ticker_to_entity_and_reads_the_holdings_json():
    h = '{"bitcoin":{"amount":1000,"avgPrice":50000,"cost":50000000,"lastAnnouncementDate":"2026-04-06"}}'
    p = treasury.parse_defillama_institutions(DH + _dl("MSTR", "Strategy, Inc. (Formerly: MicroStrategy Inc.)", h),
                                              "t", published=PUB, valued_on=dt.date(2026, 4, 13))
    (row,) = _rows(p)
    assert row["entity"] == "Strategy" and row["as_of"] == dt.date(2026, 4, 6) and row["basis"] == "snapshot"
    assert (row["btc"], row["cost_usd"], row["avg_cost_usd"]) == (1000, 50e6, 50000)
    assert row["available_at"] == PUB
    (v,) = _rows(p, "treasury_valuation_daily")
    assert v["measure"] == "realized_mnav" and v["date"] == dt.date(2026, 4, 13) and v["value"] == 1.1


def test_defillama_rows_without_bitcoin_are_skipped_and_bad_json_or_negative_quarantined():
    eth = '{"ethereum":{"amount":5,"lastAnnouncementDate":"2026-03-01"}}'
    neg = '{"bitcoin":{"amount":-59.9,"avgPrice":null,"cost":null,"lastAnnouncementDate":"2026-03-09"}}'
    late = '{"bitcoin":{"amount":3,"lastAnnouncementDate":"2026-05-01"}}'
    text = DH + _dl("ETHC", "Eth Co", eth) + _dl("GNS", "Genius", neg) + _dl("BAD", "Bad", "{not json") \
        + _dl("LATE", "Late", late)
    p = treasury.parse_defillama_institutions(text, "t", published=PUB)
    assert not _rows(p)
    assert p.skipped["no bitcoin holdings (other assets only)"] == 1
    fields = sorted(q["field"] for q in p.quarantine)
    assert fields == ["d", "holdings", "holdings.bitcoin.amount"]


def test_defillama_cost_inconsistent_with_average_is_quarantined():
    h = '{"bitcoin":{"amount":1000,"avgPrice":50000,"cost":70000000,"lastAnnouncementDate":"2026-04-06"}}'
    p = treasury.parse_defillama_institutions(DH + _dl("X", "X", h), "t", published=PUB)
    assert not _rows(p) and p.quarantine[0]["field"] == "holdings.bitcoin.cost"


def test_real_defillama_snapshot_gives_strategy_766972_and_quarantines_negative_holdings(snapshot_dir):
    p = treasury.parse_defillama_institutions(
        (snapshot_dir / "treasury/defillama_dat_institutions_snapshot_2026-04.csv").read_text(), "t", published=PUB)
    rows = {r["entity"]: r for r in _rows(p)}
    s = rows["Strategy"]
    assert (s["btc"], s["cost_usd"], s["as_of"]) == (766972, 58055861719, dt.date(2026, 4, 6))
    assert s["avg_cost_usd"] == pytest.approx(75694.89, abs=0.01)
    assert rows["Nakamoto Holdings"]["btc"] == pytest.approx(5436.41)  # "Kindly MD, Inc." by ticker NAKA
    assert rows["Metaplanet"]["cost_usd"] == pytest.approx(4182691098.73)
    # 86 institutions: 45 hold no bitcoin (skipped), 41 do, 2 of those with negative amounts.
    assert len(rows) == 39 and p.skipped["no bitcoin holdings (other assets only)"] == 45
    assert sorted(q["value"] for q in p.quarantine) == ["-1018.0", "-59.93000000000001"]


# -- stock -----------------------------------------------------------------------------------------

def test_stock_bars_are_validated_like_any_bar():
    text = ("date,open,high,low,close,Volume,Open Interest\n2026-02-05,120,125,100,110,1000,\n"
            "2026-02-06,95,90,100,95,1000,\n")
    p = treasury.parse_stock(text, "t", ticker="MSTR")
    (row,) = _rows(p, "stock_daily")
    assert row["ticker"] == "MSTR" and row["close"] == 110
    assert p.quarantine[0]["field"] == "high"


def test_real_mstr_stock_file_imports_every_day(snapshot_dir):
    p = treasury.parse_stock((snapshot_dir / "treasury/tradingview_mstr_stock_daily.csv").read_text(), "t",
                             ticker="MSTR")
    assert len(_rows(p, "stock_daily")) == 3926 and not p.quarantine


def test_entity_names_come_from_the_packaged_table():
    assert treasury.canonical(name="MicroStrategy") == "Strategy"
    assert treasury.canonical(ticker="mstr") == "Strategy"
    assert treasury.canonical(name="Kindly MD, Inc.") == "Nakamoto Holdings"
    assert treasury.canonical(name="Someone New Inc.") == "Someone New Inc."
    assert treasury.ticker_of("Strategy") == "MSTR"
