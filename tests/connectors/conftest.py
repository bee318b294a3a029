"""Test helpers for the live connectors: nothing here may reach the internet.

The suite-wide `no_internet` guard (tests/conftest.py) makes any socket connection to a host other
than the loopback fail loudly, so a connector whose base URL was not pointed at a test
server (respx or a real server on 127.0.0.1) cannot quietly fetch from a real venue. The loopback
servers below are real servers (http.server, websockets) started by the tests themselves.
"""

from __future__ import annotations

import asyncio
import os
import http.server
import json
import threading
from pathlib import Path

import pytest

from tests.conftest import FIXTURES


# The guard itself is suite-wide (tests/conftest.py, tests/nonet/sitecustomize.py); its error is
# re-exported here for the connector tests that check it fires.
from tests.nonet.sitecustomize import RealHostError  # noqa: E402


def fixture_lines(rel: str) -> list[str]:
    """Raw recorded messages from ../shared/fixtures, read in place."""
    path = FIXTURES / rel
    if not path.is_file():
        if os.environ.get("CI"):  # in CI a missing recording is a failure, never a quiet skip
            pytest.fail(f"recorded fixture {path} not available")
        pytest.skip(f"recorded fixture {path} not available")
    return [line for line in path.read_text().splitlines() if line.strip()]


LIVE = {"binance": "binance/forceOrder-live-2026-10-09.jsonl", "bybit": "bybit/allLiquidation-live-2026-10-09.jsonl",
        "okx": "okx/liquidation-orders-live-2026-10-09.jsonl"}


# -- a loopback HTTP server --------------------------------------------------------------------------

class Recorder(http.server.BaseHTTPRequestHandler):
    """Answers from `server.script` (a list of (status, headers, body) popped per request; the last one
    repeats) and keeps every request in `server.seen`."""

    def _answer(self):
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        self.server.seen.append({"method": self.command, "path": self.path, "body": body,
                                 "headers": dict(self.headers)})
        script = self.server.script
        status, headers, payload = script.pop(0) if len(script) > 1 else script[0]
        data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        self.send_response(status)
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_POST = _answer

    def log_message(self, *args):
        pass


@pytest.fixture()
def http_server():
    servers = []

    def start(script):
        srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Recorder)
        srv.script = list(script)
        srv.seen = []
        threading.Thread(target=srv.serve_forever, daemon=True).start()
        servers.append(srv)
        return srv, f"http://127.0.0.1:{srv.server_address[1]}"

    yield start
    for s in servers:
        s.shutdown()
        s.server_close()


def no_sleep(record: list):
    return lambda s: record.append(s)


__all__ = ["FIXTURES", "LIVE", "RealHostError", "asyncio", "fixture_lines", "http_server", "no_sleep",
           "Path"]
