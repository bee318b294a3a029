"""HTTP fault handling: Retry-After on 429, backoff with jitter on 5xx, rate limits, and the test guard."""

from __future__ import annotations

import random
import socket

import httpx
import pytest
import respx

from btcstress.connectors.http import FetchError, Http, RateLimiter, RetryPolicy, retry_after
from tests.connectors.conftest import RealHostError, no_sleep

URL = "https://api.example.test/x"


def client(sleeps, **kw):
    return Http(policy=RetryPolicy(attempts=4, backoff=0.5, max_backoff=4.0, jitter=0.5), sleep=no_sleep(sleeps),
                rng=random.Random(7), default_rate=1e9, **kw)


@respx.mock
def test_429_waits_the_seconds_retry_after_says_then_succeeds():
    route = respx.get(URL).mock(side_effect=[httpx.Response(429, headers={"Retry-After": "7"}),
                                             httpx.Response(200, json={"ok": 1})])
    sleeps = []
    with client(sleeps) as h:
        assert h.get(URL).json() == {"ok": 1}
    assert route.call_count == 2
    assert sleeps == [7.0]


@respx.mock
def test_500_is_retried_with_exponential_backoff_and_jitter():
    respx.get(URL).mock(side_effect=[httpx.Response(500), httpx.Response(503), httpx.Response(502),
                                     httpx.Response(200, text="fine")])
    sleeps = []
    with client(sleeps) as h:
        assert h.get(URL).text == "fine"
        assert h.stats.retries == 3
    # waits drawn from [(1 - jitter) x w, w] for w = 0.5, 1, 2
    for s, w in zip(sleeps, (0.5, 1.0, 2.0)):
        assert 0.5 * w <= s <= w
    assert len(sleeps) == 3


@respx.mock
def test_gives_up_with_fetch_error_naming_the_url_and_status():
    respx.get(URL).mock(return_value=httpx.Response(500, text="down"))
    sleeps = []
    with client(sleeps) as h, pytest.raises(FetchError, match=r"api.example.test/x failed after 4 attempt\(s\): HTTP 500"):
        h.get(URL)
    assert len(sleeps) == 3


@respx.mock
def test_a_timeout_is_retried():
    respx.get(URL).mock(side_effect=[httpx.ConnectTimeout("slow"), httpx.Response(200, text="ok")])
    sleeps = []
    with client(sleeps) as h:
        assert h.get(URL).text == "ok"
    assert len(sleeps) == 1


@respx.mock
def test_404_is_not_retried_and_is_an_answer_when_probing():
    route = respx.get(URL).mock(return_value=httpx.Response(404))
    sleeps = []
    with client(sleeps) as h:
        assert h.get(URL, ok=(200, 404)).status_code == 404
        with pytest.raises(FetchError, match="HTTP 404"):
            h.get(URL)
    assert route.call_count == 2 and sleeps == []


@respx.mock
def test_binance_used_weight_near_the_limit_pauses_until_the_next_minute():
    respx.get(URL).mock(return_value=httpx.Response(200, headers={"X-MBX-USED-WEIGHT-1M": "2300"}, json=[]))
    sleeps = []
    with client(sleeps, weight_limits={"api.example.test": 2400}) as h:
        h.get(URL)
    assert len(sleeps) == 1 and 0.5 <= sleeps[0] <= 60.5


def test_retry_after_reads_seconds_and_http_dates():
    assert retry_after("12") == 12.0
    assert retry_after(None) is None and retry_after("soon") is None
    assert retry_after("Wed, 21 Oct 2015 07:28:00 GMT") == 0.0  # a date in the past: no wait


def _fake_clock():
    now = [0.0]
    waits = []

    def sleep(s):
        waits.append(s)
        now[0] += s
    return now, waits, sleep


def test_rate_limiter_spaces_requests_evenly():
    now, waits, sleep = _fake_clock()
    lim = RateLimiter(10.0, clock=lambda: now[0], sleep=sleep)
    sent = []
    for _ in range(5):
        lim.acquire()
        sent.append(now[0])
    gaps = [b - a for a, b in zip(sent, sent[1:])]
    # never faster than 10/s (100 ms apart), and no slower than that plus the limiter's 1 ms rounding
    assert len(waits) == 4 and all(0.1 <= g <= 0.102 for g in gaps), gaps
    now[0] += 5.0  # idle for a while: the next request goes at once
    assert lim.acquire() == 0.0 and len(waits) == 4


def test_rate_limits_are_per_host_and_waits_are_counted():
    now, waits, sleep = _fake_clock()
    h = Http(sleep=sleep, clock=lambda: now[0], rate_limits={"a.test": 2.0, "b.test": 4.0}, default_rate=1e9,
             transport=httpx.MockTransport(lambda r: httpx.Response(200)))
    h.get("https://a.test/1")
    h.get("https://b.test/1")  # another host: no wait
    assert waits == []
    h.get("https://a.test/2")  # 2/s: half a second after the first
    h.get("https://b.test/2")  # 4/s: its own quarter second has passed while a.test waited
    assert len(waits) == 1 and 0.5 <= waits[0] <= 0.502 and h.stats.waited_s == pytest.approx(waits[0])
    assert h.get("https://c.test/").status_code == 200 and len(waits) == 1  # default_rate 1e9: no limit
    h.close()


def test_the_guard_fails_loudly_when_a_test_reaches_for_a_real_host():
    with pytest.raises(RealHostError):
        socket.create_connection(("93.184.216.34", 443), timeout=1)
    with pytest.raises(RealHostError):
        httpx.get("https://api.binance.com/api/v3/ping", timeout=1)


def test_a_dns_failure_fails_at_once_without_retries():
    calls = []

    def unresolvable(request):  # what httpx raises when getaddrinfo fails (respx would drop the cause)
        calls.append(request)
        raise httpx.ConnectError("[Errno -2] Name or service not known") from socket.gaierror(-2, "Name or service not known")
    sleeps = []
    with client(sleeps, transport=httpx.MockTransport(unresolvable)) as h, \
            pytest.raises(FetchError, match=r"after 1 attempt\(s\).*DNS: not retried"):
        h.get(URL)
    assert len(calls) == 1 and sleeps == [] and h.stats.retries == 0


@respx.mock
def test_a_4xx_other_than_429_fails_at_once_and_a_dropped_connection_is_retried():
    route = respx.get(URL).mock(return_value=httpx.Response(403, text="forbidden"))
    sleeps = []
    with client(sleeps) as h, pytest.raises(FetchError, match=r"after 1 attempt\(s\): HTTP 403"):
        h.get(URL)
    assert route.call_count == 1 and sleeps == []
    respx.get(URL + "2").mock(side_effect=[httpx.RemoteProtocolError("peer closed"), httpx.Response(200, text="ok")])
    with client(sleeps) as h:
        assert h.get(URL + "2").text == "ok" and h.stats.retries == 1
