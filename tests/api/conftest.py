"""Fixtures for the API tests: the app on the snapshot store (one per test session, so the findings
cache is shared and each instant is computed once), and a real server on a free loopback port."""

from __future__ import annotations

import contextlib
import socket
import threading
import time

import pytest

CRASH_Q = "as_of=2026-02-06T08:00Z"


@pytest.fixture(scope="session")
def api_app(snapshot_db):
    from btcstress.api import create_app
    return create_app(snapshot_db, config={}, cache_size=64, token=None)


@pytest.fixture(scope="session")
def client(api_app):
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from fastapi.testclient import TestClient
    with TestClient(api_app, base_url="http://127.0.0.1") as c:  # a loopback Host (the allow-list)
        yield c


@contextlib.contextmanager
def serving(app, **server_options):
    """uvicorn serving `app` in a thread on 127.0.0.1:<free port>; yields the port."""
    import uvicorn

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off", **server_options))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20  # a start-up timeout, not a speed check
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the test server did not start")
        time.sleep(0.02)
    try:
        yield sock.getsockname()[1]
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()


@pytest.fixture(scope="session")
def live_server(api_app):
    """The app served on loopback for the session; yields the base URL."""
    with serving(api_app) as port:
        yield f"http://127.0.0.1:{port}"
