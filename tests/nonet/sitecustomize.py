"""No test reaches the internet: any socket connection (or name lookup) to a host other than the
loopback fails loudly with RealHostError.

Installed for the whole suite by tests/conftest.py (`no_internet`, session-wide, autouse), and in every
Python subprocess a test starts (the CLI, a monitor, a server, Spark's Python workers): the conftest
puts this folder first on PYTHONPATH and sets BTCSTRESS_TEST_NO_NETWORK=1, so Python imports this file
as its `sitecustomize` at start and installs the same guard. Loopback servers (http.server, uvicorn,
websockets, Spark's gateway on 127.0.0.1) are real and allowed; binding to all interfaces is allowed
(it reaches nothing). A connector whose base URL was not pointed at a test server cannot quietly fetch
from a real venue.
"""

from __future__ import annotations

import ipaddress
import os
import socket

ENV = "BTCSTRESS_TEST_NO_NETWORK"


class RealHostError(AssertionError):
    pass


def is_loopback(address) -> bool:
    host = address[0] if isinstance(address, tuple) else address
    if isinstance(host, bytes):
        host = host.decode(errors="replace")
    if isinstance(host, str) and host.lower() in ("localhost", "ip6-localhost", "localhost.localdomain"):
        return True
    try:
        return ipaddress.ip_address(str(host).split("%", 1)[0]).is_loopback
    except ValueError:
        return False


def _unspecified(host) -> bool:
    try:
        return ipaddress.ip_address(str(host)).is_unspecified  # 0.0.0.0 / :: (a server binding, not a lookup)
    except ValueError:
        return False


def install(setattr_=setattr) -> None:
    """Replace socket.connect, connect_ex and getaddrinfo with guarded ones (`setattr_`: a
    monkeypatch's setattr in the test process, plain setattr in a subprocess)."""
    real_connect = socket.socket.connect
    real_connect_ex = socket.socket.connect_ex
    real_getaddrinfo = socket.getaddrinfo

    def connect(self, address):
        if self.family in (socket.AF_INET, socket.AF_INET6) and not is_loopback(address):
            raise RealHostError(f"test tried to reach a real host: {address!r}")
        return real_connect(self, address)

    def connect_ex(self, address):
        if self.family in (socket.AF_INET, socket.AF_INET6) and not is_loopback(address):
            raise RealHostError(f"test tried to reach a real host: {address!r}")
        return real_connect_ex(self, address)

    def getaddrinfo(host, *args, **kw):
        if host not in (None, "") and not is_loopback(host) and not _unspecified(host):
            raise RealHostError(f"test tried to resolve a real host: {host!r}")
        return real_getaddrinfo(host, *args, **kw)

    setattr_(socket.socket, "connect", connect)
    setattr_(socket.socket, "connect_ex", connect_ex)
    setattr_(socket, "getaddrinfo", getaddrinfo)


if os.environ.get(ENV) == "1" and __name__ == "sitecustomize":  # a subprocess of the test suite
    install()
