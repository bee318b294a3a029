"""Vintages: a preliminary ETF table imported with `btcstress ingest etf FILE --published-at T`.

The shared snapshot holds only Farside's final, revised table. The preliminary table tested here is
RECONSTRUCTED at test time (in tmp_path, never in the repo) from that final table: every day up to
2026-02-05 as in the final table, except that IBIT's 2026-02-05 cell is blank ("-", not yet
reported) and that day's Total is the sum of the funds that had reported (-434.1 - (-175.3) =
-258.8), which is the number the story quoted. It stands for what Farside showed before IBIT
reported; it is not a recorded copy of that page.
"""

from __future__ import annotations

import csv
import io
import shutil

import pytest
from typer.testing import CliRunner

from btcstress import metrics
from btcstress.cli import app
from btcstress.store import Store
from tests.conftest import utc

M = 1_000_000
PRELIM_AT = "2026-02-05T23:30Z"  # before the snapshot's own versions of 02-05 (per-fund rule: 08:00Z, IBIT 18:00Z)
FINAL = utc(2026, 2, 6, 18, 0)  # IBIT's usual time for 02-05 (etf_funds.csv): the day is final


def reconstruct_preliminary(final_csv, out_path):
    """Rows up to 2026-02-05 as published, with IBIT blank on 2026-02-05 and the Total without it."""
    rows = list(csv.reader(io.StringIO(final_csv.read_text())))
    header, body = rows[0], [r for r in rows[1:] if r[0] <= "2026-02-05"]
    ibit, total = header.index("IBIT"), header.index("Total")
    last = body[-1]
    assert last[0] == "2026-02-05"
    last[total] = f"{float(last[total]) - float(last[ibit]):.1f}"
    last[ibit] = "-"
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerows([header, *body])
    out_path.write_text(buf.getvalue())
    return out_path


@pytest.fixture()
def db(tmp_path, snapshot_db):
    """A writable copy of the session's snapshot store (the final table, vintages by the rule)."""
    path = tmp_path / "store.duckdb"
    shutil.copy(snapshot_db, path)
    return path


@pytest.fixture()
def prelim(tmp_path, snapshot_dir):
    return reconstruct_preliminary(snapshot_dir / "etf/farside_btc_etf_flows_daily.csv", tmp_path / "prelim.csv")


def ingest(db, file, *args):
    return CliRunner().invoke(app, ["--db", str(db), "ingest", "etf", str(file), *args])


def compute(db, t):
    with Store(db, read_only=True) as s:
        return metrics.compute(s, t, areas=("etf",))


def test_reconstructed_preliminary_total_is_the_storys_number(prelim):
    line = [ln for ln in prelim.read_text().splitlines() if ln.startswith("2026-02-05")][0]
    assert line.split(",")[1] == "-" and line.endswith(",-258.8")


def test_preliminary_vintage_names_missing_funds(db, prelim):
    r = ingest(db, prelim, "--published-at", PRELIM_AT)
    assert r.exit_code == 0, r.output
    fs = compute(db, utc(2026, 2, 5, 23, 45))  # after the preliminary, before the final
    f = fs.get("etf.net_flow_usd")
    assert f.value == pytest.approx(-258.8 * M)
    assert f.detail["date"] == "2026-02-05"
    assert f.detail["preliminary"] is True and f.detail["missing_funds"] == ["IBIT"]
    assert f.detail["vintage"] == "2026-02-05T23:30:00Z"
    assert "IBIT had not reported" in f.note
    ibit = fs.get("etf.flow_usd", "IBIT")
    assert ibit.value is None and "IBIT had not reported 2026-02-05" in ibit.note
    # The story's "> $1.07B for the week" is this preliminary three-day streak.
    assert fs.value("etf.outflow_streak_days") == 3
    assert fs.value("etf.outflow_streak_usd") == pytest.approx(-1075.7 * M)
    assert fs.get("etf.outflow_streak_usd").detail["preliminary"] is True


def test_final_vintage_published_later_wins_and_both_are_listed(db, prelim):
    assert ingest(db, prelim, "--published-at", PRELIM_AT).exit_code == 0
    fs = compute(db, FINAL)
    f = fs.get("etf.net_flow_usd")
    assert f.value == pytest.approx(-434.1 * M)
    assert f.detail["preliminary"] is False and f.detail["vintage"] == "2026-02-06T18:00:00Z"
    vs = [(v["vintage"], round(v["net_flow_usd"] / M, 1), v["preliminary"], v["missing_funds"]) for v in f.detail["vintages"]]
    assert vs == [("2026-02-05T23:30:00Z", -258.8, True, ["IBIT"]), ("2026-02-06T08:00:00Z", -258.8, True, ["IBIT"]),
                  ("2026-02-06T18:00:00Z", -434.1, False, [])]
    assert fs.value("etf.outflow_streak_usd") == pytest.approx(-1251.0 * M)


def test_preliminary_published_after_the_rule_vintage_is_the_latest_by_t(db, prelim):
    # If the preliminary table is the latest published by T, the as-of view reads it.
    assert ingest(db, prelim, "--published-at", "2026-02-06T19:00Z").exit_code == 0
    fs = compute(db, utc(2026, 2, 6, 20, 0))
    assert fs.value("etf.net_flow_usd") == pytest.approx(-258.8 * M)
    assert fs.get("etf.net_flow_usd").detail["missing_funds"] == ["IBIT"]
    # ...but not before it was published.
    assert compute(db, utc(2026, 2, 6, 18, 30)).value("etf.net_flow_usd") == pytest.approx(-434.1 * M)


def test_ingest_etf_is_idempotent_per_date_fund_and_vintage(db, prelim):
    first = ingest(db, prelim, "--published-at", PRELIM_AT)
    assert first.exit_code == 0 and " new" in first.output
    with Store(db, read_only=True) as s:
        n = s.counts()["etf_flows"]
    again = ingest(db, prelim, "--published-at", PRELIM_AT)
    assert again.exit_code == 0
    assert ": 0 new, 0 updated" in again.output
    with Store(db, read_only=True) as s:
        assert s.counts()["etf_flows"] == n


def test_ingest_etf_quarantines_malformed_cells_and_rejects_bad_input(db, tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("Date,IBIT,FBTC,Total\n05 Feb 2026,abc,(109.5),(109.5)\n")
    r = ingest(db, bad, "--published-at", PRELIM_AT)
    assert r.exit_code == 1 and "1 quarantined" in r.output
    with Store(db, read_only=True) as s:
        q = s.table("quarantine").filter(lambda t: t.file.startswith("file:bad.csv")).execute()
    assert list(q["field"]) == ["IBIT"] and list(q["reason"]) == ["not a number (US$ millions)"]
    assert ingest(db, bad, "--published-at", "yesterday").exit_code == 2
    assert ingest(db, tmp_path / "missing.csv").exit_code == 2


def test_brief_section_explains_preliminary_and_final(db, prelim):
    from btcstress.brief.model import Ref
    from btcstress.brief.sections import etf as section

    def text(par):
        return "".join(p.text if isinstance(p, Ref) else p for p in par.parts)

    assert ingest(db, prelim, "--published-at", PRELIM_AT).exit_code == 0
    with Store(db, read_only=True) as s:
        early = section.build(metrics.compute(s, utc(2026, 2, 5, 23, 45), areas=("etf",)))
        late = section.build(metrics.compute(s, FINAL, areas=("etf",)))
    assert ("net flow of -$258.8M on February 5, 2026 (preliminary: IBIT not yet reported), the third straight "
            "day of outflows, -$1.08B in three days") in text(early.paragraphs[0])
    assert "(final), the third straight day of outflows, -$1.25B in three days" in text(late.paragraphs[0])
    assert any("published 2026-02-05 23:30 UTC before IBIT reported, showed -$258.8M" in text(n) for n in late.notes)
