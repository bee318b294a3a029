"""Issue 17, "an API that cannot be starved" and "one input, one crash" at the API: each defect found by
probing, as a test (the app in-process, a real uvicorn on 127.0.0.1 for the socket-level ones)."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import threading
import time

import pytest

from tests.api.conftest import serving

from btcstress.api import create_app, guard
from btcstress.api.inputs import MAX_INSTANTS
from btcstress.errors import InputError

CLAIM = "c{i},price.low_24h_usd,BTC,approx,60000,USD,{d},24h,q\n"
HEADER = "claim_id,finding_id,subject,comparator,value,unit,as_of,window,quote\n"


@pytest.fixture()
def fresh(snapshot_db):
    """An app of its own (empty caches), on the snapshot store."""
    from fastapi.testclient import TestClient
    app = create_app(snapshot_db, config={}, cache_size=64, token=None)
    with TestClient(app, base_url="http://127.0.0.1") as c:
        yield app, c


def test_the_host_header_must_be_a_loopback_name_by_default(client):
    assert client.get("/health").status_code == 200
    for host in ("evil.example", "127.0.0.1.evil.example", "attacker.test:8000"):
        r = client.get("/health", headers={"Host": host})
        assert r.status_code == 400 and r.json()["error"] == "bad_host"
    assert client.get("/health", headers={"Host": "localhost:8000"}).status_code == 200
    assert client.get("/health", headers={"Host": "[::1]:8000"}).status_code == 200


def test_health_names_no_path_and_never_waits_for_a_computation(fresh):
    app, c = fresh
    svc = app.state.service
    body = c.get("/health").json()
    assert "/" not in body["store"]
    svc.clear()
    held = threading.Event()
    release = threading.Event()

    def computing():  # a long computation holds the store lock
        with svc.lock:
            held.set()
            release.wait(60)
    t = threading.Thread(target=computing)
    t.start()
    held.wait(10)
    try:
        r = c.get("/health")
        assert r.status_code == 200 and r.json()["data"].get("busy") is True
    finally:
        release.set()
        t.join()


def test_uncached_work_beyond_the_queue_is_refused_with_retry_after(fresh):
    app, c = fresh
    svc = app.state.service
    svc.admission = guard.Admission(workers=1, queue=0)
    inside = threading.Event()
    leave = threading.Event()

    def busy():
        with svc.admission.admit():
            inside.set()
            leave.wait(60)
    t = threading.Thread(target=busy)
    t.start()
    inside.wait(10)
    try:
        r = c.get("/findings", params={"as_of": "2025-03-01T00:00Z"})
        assert r.status_code == 503 and r.json()["error"] == "busy" and int(r.headers["Retry-After"]) > 0
        assert svc.admission.refused == 1
    finally:
        leave.set()
        t.join()


def test_check_caps_the_distinct_instants_one_request_may_compute(client):
    body = HEADER + "".join(CLAIM.format(i=i, d=f"2025-{1 + i // 28:02d}-{1 + i % 28:02d}")
                            for i in range(MAX_INSTANTS + 5))
    r = client.post("/check", content=body, headers={"Content-Type": "text/csv"})
    assert r.status_code == 400 and r.json()["error"] == "too_many_instants"


@pytest.mark.parametrize("body, ctype", [
    ("[" * 100_000 + "]" * 100_000, "application/json"),
    (json.dumps([{"claim_id": ["x"], "finding_id": {"a": 1}}]), "application/json"),
    (HEADER + CLAIM.format(i=1, d="9999-12-31"), "text/csv"),
    (HEADER + CLAIM.format(i=1, d="0001-01-01"), "text/csv"),
])
def test_check_answers_400_not_500_for_hostile_bodies(client, body, ctype):
    r = client.post("/check", content=body, headers={"Content-Type": ctype})
    assert r.status_code == 400, r.text


@pytest.mark.parametrize("q", ["to=9999-12-31", "from=0001-01-01", "as_of=9999-12-31T23:59Z", "to=10000-01-01"])
def test_series_with_extreme_dates_is_a_400(client, q):
    assert client.get(f"/series/price.hourly_48h?{q}").status_code == 400


def test_a_numeric_token_in_the_config_is_refused_at_start(snapshot_db):
    with pytest.raises(InputError):
        create_app(snapshot_db, config={"api": {"token": 12345}})


def test_cite_with_writes_off_is_refused_before_its_body_is_read(client):
    r = client.post("/cite", content=b"x" * 5_000_000, headers={"Content-Type": "application/json"})
    assert r.status_code == 403 and r.json()["error"] == "writes_disabled"


def test_scrub_removes_paths_and_pids():
    msg = 'IO Error: Could not set lock on file "/home/u/data/btcstress.duckdb": held by PID 4242'
    assert guard.scrub(msg) == 'IO Error: Could not set lock on file "btcstress.duckdb": held by'


# -- on a real server ------------------------------------------------------------------------------

@pytest.fixture()
def server(snapshot_db):
    """uvicorn on 127.0.0.1 with a 1 s body timeout and a 64 KiB body limit."""
    app = create_app(snapshot_db, config={"api": {"limits": {"body_timeout": 1, "max_body": 65536}}})
    with serving(app) as port:
        yield port


def _raw(port: int, data: bytes, then: bytes = b"") -> bytes:
    s = socket.create_connection(("127.0.0.1", port), timeout=30)
    s.sendall(data)
    if then:
        s.sendall(then)
    out = b""
    while True:
        chunk = s.recv(65536)
        if not chunk:
            break
        out += chunk
        if b"\r\n\r\n" in out and b'"}' in out:
            break
    s.close()
    return out


def test_a_body_over_the_limit_is_cut_while_reading(server):
    head = (b"POST /check HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: text/csv\r\nTransfer-Encoding: chunked\r\n\r\n")
    chunk = b"x" * 30000
    body = b"".join(b"%x\r\n" % len(chunk) + chunk + b"\r\n" for _ in range(5))  # 150 KB, no end marker
    out = _raw(server, head, body)
    assert out.startswith(b"HTTP/1.1 413")


def test_a_body_that_never_completes_does_not_hold_the_connection(server):
    head = (b"POST /check HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: text/csv\r\nContent-Length: 1000\r\n\r\n"
            b"claim_id,")
    out = _raw(server, head)
    assert out.startswith(b"HTTP/1.1 408")


def test_readers_get_in_between_a_running_monitors_batches(tmp_path):
    """While `btcstress monitor` runs live, a read-only open (the API, `findings`) succeeds: the monitor
    holds the store only while it writes a batch."""
    import os
    from pathlib import Path

    from btcstress.store import Store, StoreBusyError
    root = Path(__file__).resolve().parents[2]
    db = tmp_path / "m.duckdb"
    rules = tmp_path / "r.yaml"
    rules.write_text("- {name: a, finding: liquidations.count, op: '>', value: 1000}\n")
    env = {**os.environ, "PYTHONPATH": str(root / "src") + os.pathsep + str(root)}
    mon = subprocess.Popen([sys.executable, "-m", "btcstress.cli", "--db", str(db), "monitor", "--rules", str(rules),
                            "--venues", "", "--pull", "", "--batch-ms", "100", "--duration", "60",
                            "--raw-dir", str(tmp_path / "raw")], env=env, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, text=True)
    try:
        opened = False
        for _ in range(400):
            if db.exists() and mon.poll() is None:
                try:
                    with Store(db, read_only=True) as s:
                        s.table("liquidations").count().execute()
                    opened = True
                    break
                except StoreBusyError:
                    pass
            time.sleep(0.1)
        assert mon.poll() is None and opened
    finally:
        mon.terminate()
        mon.communicate(timeout=60)


@pytest.mark.parametrize("as_of", ["9999-12-31T00:00Z", "0001-01-01T00:00Z", "2026-02-30T00:00Z"])
def test_cite_with_extreme_dates_is_refused_not_a_500(tmp_path, snapshot_db, as_of):
    import shutil

    from fastapi.testclient import TestClient
    db = tmp_path / "copy.duckdb"
    shutil.copyfile(snapshot_db, db)
    app = create_app(db, config={"api": {"token": "t0ken"}})
    with TestClient(app, base_url="http://127.0.0.1") as c:
        r = c.post("/cite", headers={"Authorization": "Bearer t0ken"},
                   json={"finding": "liquidations.total_usd", "subject": "ALL", "value": 2.6e9, "unit": "USD",
                         "as_of": as_of, "window": "24h", "source": "CoinGlass"})
    assert r.status_code in (400, 422), r.text


def test_a_non_finite_finding_never_fires_an_alert():
    from btcstress.findings import Finding
    from btcstress.monitor import Rule
    rule = Rule(name="r", finding="liquidations.total_usd", op=">", value=1)
    f = Finding(id="liquidations.total_usd", subject="BTC", value=float("inf"), unit="USD",
                as_of="2026-02-06T00:00:00Z", window="24h", kind="computed", method="m", params={}, sources=[])
    assert not rule.matches(f)
