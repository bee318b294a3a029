"""Issue 17 item 6: every CLI error is one line and exit 2 (a bad question) or 1 (a data problem),
never a traceback. One test walks every case the probe found."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from btcstress.cli import app

runner = CliRunner()

LINE = ('{"e":"forceOrder","E":1770364800100,"o":{"s":"BTCUSDT","S":"SELL","ap":"62000.5","z":"0.010",'
        '"T":1770364800000}}\n')


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    d = tmp_path_factory.mktemp("cli")
    events = d / "events.jsonl"
    events.write_text(LINE)
    db = d / "s.duckdb"
    assert runner.invoke(app, ["--db", str(db), "ingest", "events", str(events), "--venue", "binance"]).exit_code == 0
    (d / "bad.yaml").write_text("params: [unclosed\n")
    (d / "latin1.yaml").write_bytes(b"params: {miners: {x: \xe9}}\n")
    (d / "list.yaml").write_text("- a\n- b\n")
    (d / "params_list.yaml").write_text("params: [1, 2]\n")
    (d / "area_scalar.yaml").write_text("params: {miners: 5}\n")
    (d / "rules_latin1.yaml").write_bytes(b"- name: \xe9\n")
    (d / "a_folder").mkdir()
    (d / "existing.txt").write_text("x")
    fng = d / "fng"
    (fng / "marketcap").mkdir(parents=True)
    (fng / "marketcap" / "alternativeme_fear_greed_index_daily.csv").write_text(
        "date,fng_value,fng_classification\n2026-02-05,9,Extreme Fear\n2026-02-06,1")
    return d, db


CASES = [  # (id, args, expected exit code)
    ("as-of year 9999", ["findings", "--as-of", "9999-12-31T00:00Z"], 2),
    ("as-of year 0001", ["findings", "--as-of", "0001-01-01T00:00Z"], 2),
    ("date year 9999", ["report", "--date", "9999-12-31", "--out", "{d}/out"], 2),
    ("date year 0001", ["scenario", "--date", "0001-01-01"], 2),
    ("param not a number", ["findings", "--as-of", "2026-02-06T08:00Z", "--param", "miners.power_price_usd_kwh=abc"], 2),
    ("param malformed", ["findings", "--param", "nonsense"], 2),
    ("param unknown", ["findings", "--as-of", "2026-02-06T08:00Z", "--param", "miners.nope=1"], 2),
    ("param unparsable", ["findings", "--param", "miners.x=[1,"], 2),
    ("config missing", ["--config", "{d}/nope.yaml", "findings"], 2),
    ("config bad YAML", ["--config", "{d}/bad.yaml", "findings"], 2),
    ("config not UTF-8", ["--config", "{d}/latin1.yaml", "findings"], 2),
    ("config a folder", ["--config", "{d}/a_folder", "findings"], 2),
    ("config wrong shape", ["--config", "{d}/list.yaml", "findings"], 2),
    ("config params a list", ["--config", "{d}/params_list.yaml", "findings"], 2),
    ("config params area a scalar", ["--config", "{d}/area_scalar.yaml", "findings"], 2),
    ("rules not UTF-8", ["monitor", "--rules", "{d}/rules_latin1.yaml", "--replay", "{d}/events.jsonl"], 2),
    ("rules a folder", ["monitor", "--rules", "{d}/a_folder", "--replay", "{d}/events.jsonl"], 2),
    ("quarantine --limit -1", ["quarantine", "--limit", "-1"], 2),
    ("db unwritable", ["--db", "/proc/btcstress-test.duckdb", "ingest", "events", "{d}/events.jsonl", "--venue",
                       "binance"], 2),
    ("db folder cannot be made", ["--db", "/proc/nope/s.duckdb", "ingest", "events", "{d}/events.jsonl", "--venue",
                                  "binance"], 2),
    ("out unwritable", ["report", "--as-of", "2026-02-06T08:00Z", "--out", "/proc/btcstress-out"], 2),
    ("out an existing file", ["report", "--as-of", "2026-02-06T08:00Z", "--out", "{d}/existing.txt"], 2),
    ("export path unwritable", ["export", "parquet", "/proc/btcstress-wh"], 2),
    ("export path an existing file", ["export", "parquet", "{d}/existing.txt"], 2),
    ("fear and greed cut mid-line", ["ingest", "snapshot", "{d}/fng"], 1),
]


@pytest.mark.parametrize("name, args, code", CASES, ids=[c[0] for c in CASES])
def test_every_cli_error_is_one_line_with_its_exit_code(files, name, args, code):
    d, db = files
    args = [a.replace("{d}", str(d)) for a in args]
    if "--db" not in args:
        args = ["--db", str(db), *args]
    r = runner.invoke(app, args)
    assert r.exit_code == code, (r.output, repr(r.exception))
    assert r.exception is None or isinstance(r.exception, SystemExit), repr(r.exception)
    assert "Traceback" not in r.output
    errors = [line for line in r.output.splitlines() if line.startswith("error:")]
    if code == 2:
        assert len(errors) == 1, r.output
        assert [line for line in r.output.splitlines() if line.strip()] == errors, r.output
    else:  # a data problem: the per-file table, then the summary naming what was quarantined
        assert "quarantined" in r.output
