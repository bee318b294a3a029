"""Logging (issue 18): records on stderr, warnings by default, -v info, -vv debug, -q errors only; the
per-file ingest lines, the quarantined rows at debug, and `serve`'s access log (a real server process)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
from typer.testing import CliRunner

from btcstress.cli import app

ROOT = Path(__file__).resolve().parents[1]
# Farside's daily layout, US$m; the second day's FBTC is not a number (quarantined at line 3)
FLOWS = "date,IBIT,FBTC,Total\n2026-02-04,-373.4,-86.4,-459.8\n2026-02-05,-175.3,12x,-163.0\n"


def _ingest(tmp_path: Path, *flags: str):
    csv = tmp_path / "flows.csv"
    csv.write_text(FLOWS)
    return CliRunner().invoke(app, [*flags, "--db", str(tmp_path / "s.duckdb"), "ingest", "etf", str(csv),
                                    "--allow-quarantine"], env={"COLUMNS": "200"})


def test_default_shows_no_info_records_and_v_shows_each_file(tmp_path):
    quiet_by_default = _ingest(tmp_path)
    assert quiet_by_default.exit_code == 0, quiet_by_default.output
    assert " INFO " not in quiet_by_default.stderr and " DEBUG " not in quiet_by_default.stderr
    r = _ingest(tmp_path, "-v")
    assert r.exit_code == 0, r.output
    # the second run over the same file: 2 lines in (one good day, one refused), nothing new
    assert "INFO btcstress.ingest: file:flows.csv: 2 rows in -> 0 new, 0 updated" in r.stderr
    assert "ingest run" in r.stderr and "committed" in r.stderr
    assert " DEBUG " not in r.stderr


def test_vv_names_each_quarantined_row_and_q_leaves_only_the_result(tmp_path):
    r = _ingest(tmp_path, "-vv")
    assert r.exit_code == 0, r.output
    assert "DEBUG btcstress.ingest: file:flows.csv line 3 field FBTC quarantined: not a number" in r.stderr
    q = _ingest(tmp_path, "-q")
    assert q.exit_code == 0, q.output
    assert q.stderr == ""  # no per-file table, no records below ERROR
    assert "1 quarantined" in q.stdout  # the result itself is still said


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _serve(db: Path, *flags: str) -> list[str]:
    """Start `btcstress serve` (a real process), ask /health once, stop it; its stderr lines."""
    port = _free_port()
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src") + os.pathsep + os.environ.get("PYTHONPATH", "")}
    p = subprocess.Popen([sys.executable, "-m", "btcstress.cli", *flags, "--db", str(db), "serve", "--port",
                          str(port)], stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True, env=env)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                assert httpx.get(f"http://127.0.0.1:{port}/health", timeout=5).status_code == 200
                break
            except httpx.TransportError:
                assert p.poll() is None and time.monotonic() < deadline, "serve did not start"
                time.sleep(0.2)
    finally:
        p.terminate()
        _, stderr = p.communicate(timeout=30)
    return stderr.splitlines()


def test_serve_writes_an_access_log_line_per_request_unless_quiet(tmp_path):
    assert _ingest(tmp_path).exit_code == 0
    lines = _serve(tmp_path / "s.duckdb")
    assert any('"GET /health HTTP/1.1" 200' in line for line in lines), lines
    quiet = _serve(tmp_path / "s.duckdb", "-q")
    assert not any("GET /health" in line for line in quiet), quiet
