"""The no-network guard covers the whole suite, not only tests/connectors/, and the Python subprocesses
tests start; the loopback stays open (real servers on 127.0.0.1 are how tests talk to fakes)."""

from __future__ import annotations

import socket
import subprocess
import sys

import httpx
import pytest

from tests.nonet.sitecustomize import RealHostError


def test_a_test_outside_the_connectors_cannot_reach_or_resolve_a_real_host():
    with pytest.raises(RealHostError):
        socket.create_connection(("192.0.2.1", 443), timeout=1)  # TEST-NET-1: nothing would answer anyway
    with pytest.raises(RealHostError):
        socket.getaddrinfo("api.binance.com", 443)
    with pytest.raises(RealHostError):
        httpx.get("https://farside.co.uk/btc/", timeout=1)


def test_a_python_subprocess_of_a_test_is_guarded_too():
    code = "import socket; socket.create_connection(('192.0.2.1', 443), timeout=1)"
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert run.returncode != 0 and "RealHostError" in run.stderr, run.stderr[-500:]


def test_the_loopback_is_allowed_in_process_and_in_a_subprocess():
    with socket.create_server(("127.0.0.1", 0)) as server:
        port = server.getsockname()[1]
        with socket.create_connection(("127.0.0.1", port), timeout=5):
            pass
        code = f"import socket; socket.create_connection(('localhost', {port}), timeout=5).close()"
        run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
        assert run.returncode == 0, run.stderr[-500:]
