"""Issue 17, "a monitor that survives": chaos on loopback. A websocket server that disconnects, goes
silent, sends slow and malformed frames; REST sources answering 429 with Retry-After and 500; a webhook
that is slow, then rate-limits, then fails. The monitor must store every valid frame once, quarantine
the malformed ones, fill the REST gaps, and account for every alert (delivered or dead-lettered).

Frames are written here from Binance's documented forceOrder shape; the REST answers are the synthetic
ones of tests/connectors/fakevenues.py. Nothing asserts how long anything took.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import http.server
import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from btcstress.connectors.http import RetryPolicy
from btcstress.delivery import WebhookSink, validate_webhook_url
from btcstress.errors import InputError
from btcstress.monitor import Monitor, load_rules, run_live
from btcstress.store import Store
from tests.connectors import fakevenues

ROOT = Path(__file__).resolve().parents[1]


def frame(t_ms: int, qty: str) -> str:
    return json.dumps({"stream": "!forceOrder@arr", "data": {"e": "forceOrder", "E": t_ms + 3, "o": {
        "s": "BTCUSDT", "S": "SELL", "o": "LIMIT", "f": "IOC", "q": qty, "p": "90000", "ap": "90000",
        "X": "FILLED", "l": qty, "z": qty, "T": t_ms}}})


MALFORMED = ["[" * 50_000 + "]" * 50_000,  # nested past the JSON parser's recursion limit
             json.dumps({"stream": "x", "data": {"e": "forceOrder", "E": 1, "o": {"s": "BTCUSDT", "S": ["SELL"]}}}),
             "{not json"]


class Hook(http.server.BaseHTTPRequestHandler):
    """A webhook whose n-th POST plays the n-th (delay seconds, status, headers) of its script."""

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        n = len(self.server.seen)
        self.server.seen.append(body)
        delay, status, headers = self.server.script[min(n, len(self.server.script) - 1)]
        time.sleep(delay)
        self.send_response(status)
        for k, v in headers.items():
            self.send_header(k, v)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *a):
        pass


def start_hook(script):
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Hook)
    srv.script, srv.seen = script, []
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    return srv, f"http://127.0.0.1:{srv.server_address[1]}/hook"


class FaultyVenue(fakevenues.Handler):
    """fakevenues, but the first request of every path answers 429 (Retry-After: 1) and the second 500."""

    def do_GET(self):
        path = self.path.split("?")[0]
        n = self.server.hits.get(path, 0)
        self.server.hits[path] = n + 1
        if n < 2:
            self.server.faults += 1
            self.send_response(429 if n == 0 else 500)
            if n == 0:
                self.send_header("Retry-After", "1")
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        super().do_GET()


def test_the_monitor_survives_a_hostile_stream_faulty_rest_and_a_bad_webhook(tmp_path):
    from websockets.asyncio.server import serve

    now_ms = int(time.time() * 1000)
    good = [frame(now_ms - 60_000 + i * 100, f"0.{i + 1}") for i in range(9)]
    plays = [
        [good[0], MALFORMED[0], good[1], MALFORMED[1], good[2], "ABORT"],  # a drop
        [("SLOW", good[3]), ("SLOW", good[4]), MALFORMED[2], "SILENT"],  # slow frames, then silence
        [good[5], good[6], good[7], good[8], "WAIT"],
    ]
    conns = []

    async def handler(ws):
        play = plays[min(len(conns), len(plays) - 1)]
        conns.append(ws)
        for action in play:
            if action == "ABORT":
                ws.transport.abort()
                return
            if action == "SILENT":
                await asyncio.sleep(30)
                return
            if action == "WAIT":
                await ws.wait_closed()
                return
            if isinstance(action, tuple):
                await asyncio.sleep(0.3)
                action = action[1]
            await ws.send(action)

    venue = http.server.ThreadingHTTPServer(("127.0.0.1", 0), FaultyVenue)
    venue.seen, venue.hits, venue.faults = [], {}, 0
    threading.Thread(target=venue.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{venue.server_address[1]}"
    # webhook: the first alert waits 2 s, the next gets 429 Retry-After 1, then 500, then it works
    hook_srv, url = start_hook([(2.0, 200, {}), (0, 429, {"Retry-After": "1"}), (0, 500, {}), (0, 200, {})])
    rules = load_rules_text("- {name: any, finding: liquidations.count, subject: BTC, window: '24h', op: '>=', "
                            "value: 1}")
    hook = WebhookSink(url, tmp_path / "dead.jsonl", attempts=4, backoff=0.05, timeout=5)

    async def main():
        async with serve(handler, "127.0.0.1", 0) as server:
            port = server.sockets[0].getsockname()[1]
            with Store(tmp_path / "m.duckdb") as store:
                m = Monitor(store, rules, [hook], batch_messages=1, recompute_ms=0)
                conf = {"binance": {"ws_stream_url": f"ws://127.0.0.1:{port}/ws/!forceOrder@arr", "silence_timeout": 1,
                                    "spot_url": base, "usdm_url": base, "archive_url": base,
                                    "markets": ["binance"], "intervals": ["1d"]},
                        "http": {"timeout": 5, "attempts": 4, "backoff": 0.01, "rates": {base.split("//")[1]: 1000}}}
                since = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None) - dt.timedelta(days=3)
                stats = await run_live(m, venues=["binance"], pulls=["binance"], conf=conf, since=since, duration=6.0,
                                       reconnect=RetryPolicy(attempts=10**6, backoff=0.05, max_backoff=0.1))
                t = store.table("liquidations").execute()
                q = store.table("quarantine").execute()
                gaps = store.table("stream_gaps").count().execute()
                days = store.table("candles").filter(lambda c: c.interval == "1d").count().execute()
                return stats, t, q, gaps, days

    stats, t, q, gaps, days = asyncio.run(main())
    delivery = hook.close()
    venue.shutdown()
    hook_srv.shutdown()
    # every valid frame stored once, every malformed one quarantined, both outages recorded
    assert sorted(t.qty.round(6).tolist()) == [round(0.1 * (i + 1), 6) for i in range(9)]
    assert len(q) == 3 and set(q.target) == {"liquidations"}
    assert len(conns) >= 3 and gaps >= 2
    # REST: every path faulted twice (429 with Retry-After, then 500) and still 0 gaps after backfill
    assert venue.faults >= 2 and days >= 3
    # every alert delivered or dead-lettered
    assert stats.alerts >= 1
    assert delivery.accepted == stats.alerts == delivery.delivered + delivery.dead_lettered
    dead = [json.loads(l) for l in (tmp_path / "dead.jsonl").read_text().splitlines()] if delivery.dead_lettered else []
    assert len(dead) == delivery.dead_lettered


def test_a_webhook_that_hangs_cannot_hold_the_monitor_past_its_drain(tmp_path):
    srv, url = start_hook([(30.0, 200, {})])
    hook = WebhookSink(url, tmp_path / "dead.jsonl", timeout=0.5, attempts=3, backoff=0.05, queue_size=2)
    for i in range(5):  # 2 fit the queue (one may already be in flight), the rest are dead-lettered at once
        hook.emit({"rule": f"r{i}"})
    s = hook.close(drain_timeout=1.0)
    srv.shutdown()
    assert s.accepted == 5 and s.delivered == 0 and s.dead_lettered == 5
    lines = [json.loads(l) for l in (tmp_path / "dead.jsonl").read_text().splitlines()]
    assert sorted(l["alert"]["rule"] for l in lines) == [f"r{i}" for i in range(5)]


def test_retry_after_is_honoured_up_to_a_cap(tmp_path):
    srv, url = start_hook([(0, 429, {"Retry-After": "300"}), (0, 200, {})])
    hook = WebhookSink(url, tmp_path / "dead.jsonl", max_retry_after=0.2, backoff=0.01)
    waits = []
    orig = hook._wait
    hook._wait = lambda rs: waits.append(orig(rs)) or waits[-1]
    hook.emit({"rule": "x"})
    s = hook.close()
    srv.shutdown()
    assert (s.delivered, s.dead_lettered, s.retries) == (1, 0, 1) and waits == [0.2]


@pytest.mark.parametrize("url", ["not a url", "ftp://example.org/x", "http://", "https:///path", "", "hook"])
def test_an_invalid_webhook_url_is_refused_at_start(url, tmp_path):
    with pytest.raises(InputError):
        validate_webhook_url(url)
    rules = tmp_path / "r.yaml"
    rules.write_text("- {name: a, finding: liquidations.count, op: '>', value: 1}\n")
    from typer.testing import CliRunner

    from btcstress.cli import app
    r = CliRunner().invoke(app, ["--db", str(tmp_path / "m.duckdb"), "monitor", "--rules", str(rules),
                                 "--webhook", url or " ", "--venues", "", "--pull", "", "--duration", "1"])
    assert r.exit_code == 2 and "--webhook" in r.output and "Traceback" not in r.output
    assert not (tmp_path / "m.duckdb").exists()


def test_sigterm_flushes_buffered_events_and_closes(tmp_path):
    """A live monitor with a large batch (nothing written yet) is stopped by SIGTERM: the buffer is
    written, the store closed, the exit clean."""
    script = tmp_path / "ws.py"
    now_ms = int(time.time() * 1000)
    frames = [frame(now_ms - 30_000 + i, f"0.{i + 1}") for i in range(5)]
    script.write_text(f"""
import asyncio, sys
from websockets.asyncio.server import serve
FRAMES = {frames!r}
async def handler(ws):
    for f in FRAMES:
        await ws.send(f)
    await ws.wait_closed()
async def main():
    async with serve(handler, "127.0.0.1", 0) as s:
        print(s.sockets[0].getsockname()[1], flush=True)
        await asyncio.sleep(120)
asyncio.run(main())
""")
    ws = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, text=True)
    try:
        port = int(ws.stdout.readline())
        cfg = tmp_path / "c.yaml"
        cfg.write_text(f'sources: {{binance: {{ws_stream_url: "ws://127.0.0.1:{port}/ws/x"}}}}\n')
        rules = tmp_path / "r.yaml"
        rules.write_text("- {name: a, finding: liquidations.count, op: '>', value: 1000}\n")
        db = tmp_path / "m.duckdb"
        env = {**os.environ, "PYTHONPATH": str(ROOT / "src") + os.pathsep + str(ROOT)}
        mon = subprocess.Popen([sys.executable, "-m", "btcstress.cli", "--db", str(db), "--config", str(cfg), "monitor",
                                "--rules", str(rules), "--venues", "binance", "--pull", "", "--batch", "100000",
                                "--batch-ms", "600000", "--raw-dir", str(tmp_path / "raw")],
                               env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        raw = tmp_path / "raw" / "binance"
        for _ in range(600):  # until the 5 frames are in the raw capture (so they are in the buffer)
            files = list(raw.rglob("*.jsonl.gz")) if raw.exists() else []
            if files and _lines(files) >= 5:
                break
            time.sleep(0.05)
        mon.send_signal(signal.SIGTERM)
        _, err = mon.communicate(timeout=120)
        assert mon.returncode == 0, err
        with Store(db, read_only=True) as s:
            assert s.table("liquidations").count().execute() == 5
    finally:
        ws.kill()


def _lines(files) -> int:
    from btcstress.connectors.streams import read_lines
    return sum(1 for f in files for _ in read_lines(f))


def load_rules_text(text: str):
    import tempfile
    with tempfile.TemporaryDirectory() as d:
        p = Path(d) / "r.yaml"
        p.write_text(text)
        return load_rules(p)


def test_replay_of_a_file_with_nested_and_mistyped_messages_keeps_going(tmp_path):
    from typer.testing import CliRunner

    from btcstress.cli import app
    now_ms = int(time.time() * 1000)
    lines = [frame(now_ms - 5000, "0.1"), *MALFORMED, frame(now_ms - 4000, "0.2")]
    f = tmp_path / "binance-capture.jsonl"
    f.write_text("\n".join(lines) + "\n")
    rules = tmp_path / "r.yaml"
    rules.write_text("- {name: a, finding: liquidations.count, op: '>', value: 1000}\n")
    db = tmp_path / "m.duckdb"
    r = CliRunner().invoke(app, ["--db", str(db), "monitor", "--rules", str(rules), "--replay", str(f)])
    assert r.exit_code == 0, r.output
    with Store(db, read_only=True) as s:
        assert s.table("liquidations").count().execute() == 2
        assert s.table("quarantine").count().execute() == len(MALFORMED)
