"""A loopback stand-in for the public sources, for end-to-end tests of `ingest live` and `make demo`.

Every answer is synthetic, written here in each source's documented format (Binance kline arrays,
funding and open-interest objects, mempool.space mining payloads, Farside's table layout, EDGAR's
submissions JSON and a BTC Update 8-K): tiny and deterministic, never real data. The data archive
answers 404 everywhere, so the Binance connector falls through to REST, as for a month not archived yet.
"""

from __future__ import annotations

import datetime as dt
import http.server
import json
import threading
from urllib.parse import parse_qs, urlsplit

H = 3_600_000
EPOCH = dt.datetime(1970, 1, 1)

EIGHT_K = """<html><body><p>BTC Update</p><table>
<tr><td>Period</td><td>BTC Acquired</td><td>Aggregate Purchase Price (in millions)</td><td>Average Purchase Price</td>
<td>Aggregate BTC Holdings</td><td>Aggregate Purchase Price (in billions)</td><td>Average Purchase Price</td></tr>
<tr><td>{start:%-m/%-d/%Y} - {end:%-m/%-d/%Y}</td><td>100</td><td>$</td><td>9.0</td><td>$</td><td>90,000</td>
<td>700,100</td><td>$</td><td>53.2</td><td>$</td><td>75,989</td></tr></table></body></html>"""


def _day(d: dt.date) -> dt.datetime:
    return dt.datetime(d.year, d.month, d.day)


def answer(path: str, q: dict[str, str], now: dt.datetime) -> tuple[int, str, bytes]:
    """The venue's answer at `now`: bars closed by then (the open bar is left out, so a world frozen at
    `now` looks the same to a second run an hour later), days up to `now`'s date."""
    js = lambda o: (200, "application/json", json.dumps(o).encode())  # noqa: E731
    today, now_ms = now.date(), int(now.timestamp() * 1000)
    if path.startswith("/data/"):
        return 404, "text/plain", b"not archived"
    if path in ("/api/v3/klines", "/fapi/v1/klines"):
        step = {"1h": H, "1d": 24 * H}[q["interval"]]
        start, end = int(q["startTime"]), min(int(q["endTime"]), now_ms - step)
        t = (start + step - 1) // step * step
        rows = []
        while t <= end and len(rows) < int(q["limit"]):
            px = 80_000 + (t // H) % 500
            rows.append([t, f"{px}.0", f"{px + 120}.0", f"{px - 130}.0", f"{px + 10}.0", "10.0", t + step - 1,
                         f"{px * 10}.0", 500, "5.0", f"{px * 5}.0", "0"])
            t += step
        return js(rows)
    if path == "/fapi/v1/fundingRate":
        start, end = int(q["startTime"]), min(int(q["endTime"]), now_ms)
        t = (start + 8 * H - 1) // (8 * H) * 8 * H
        out = []
        while t <= end:
            out.append({"symbol": "BTCUSDT", "fundingTime": t, "fundingRate": "0.00010000", "markPrice": "80000"})
            t += 8 * H
        return js(out)
    if path == "/futures/data/openInterestHist":
        return js([{"symbol": "BTCUSDT", "sumOpenInterest": "90000", "sumOpenInterestValue": str(7.2e9 + k * 1e8),
                    "timestamp": int((_day(today - dt.timedelta(days=k)) - EPOCH).total_seconds() * 1000)}
                   for k in range(3, -1, -1)])
    if path.startswith("/api/v1/mining/hashrate/"):
        days = [today - dt.timedelta(days=k) for k in range(10, -1, -1)]
        return js({"hashrates": [{"timestamp": int((_day(d) - EPOCH).total_seconds()), "avgHashrate": 1.0e21 + i * 1e18}
                                 for i, d in enumerate(days)],
                   "difficulty": [{"time": int((_day(days[0]) - EPOCH).total_seconds()) - 86_400, "height": 925_000,
                                   "difficulty": 1.5e14, "adjustment": 1.0}],
                   "currentHashrate": 1.0e21, "currentDifficulty": 1.5e14})
    if path == "/api/v1/mining/blocks/fees":
        s = int(q["from"])
        base = 925_000 + (s // 86_400) % 1000 * 144
        return js([{"avgHeight": base + k, "timestamp": s + 599 * (k + 1), "avgFees": 2_000_000, "USD": 80_000}
                   for k in range(144)])
    if path.startswith("/bitcoin-etf-flow-all-data"):
        d = today - dt.timedelta(days=1)
        html = (f"<table><tr><th></th><th>IBIT</th><th>FBTC</th><th>Total</th></tr>"
                f"<tr><td>{d:%d %b %Y}</td><td>(10.0)</td><td>4.5</td><td>(5.5)</td></tr></table>")
        return 200, "text/html", html.encode()
    if path == "/submissions/CIK0001050446.json":
        filed = today - dt.timedelta(days=1)
        return js({"cik": "1050446", "filings": {"recent": {
            "accessionNumber": ["0000000000-26-000001"], "filingDate": [filed.isoformat()], "form": ["8-K"],
            "primaryDocument": ["d8k.htm"], "items": ["8.01"]}}})
    if path.startswith("/Archives/edgar/data/1050446/"):
        end = today - dt.timedelta(days=2)
        return 200, "text/html", EIGHT_K.format(start=end - dt.timedelta(days=6), end=end).encode()
    return 404, "text/plain", f"no route for {path}".encode()


class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        u = urlsplit(self.path)
        q = {k: v[0] for k, v in parse_qs(u.query).items()}
        self.server.seen.append(u.path)
        # The venue's clock: frozen when the server started (start()), so two runs of a test see one world.
        now = getattr(self.server, "now", None) or dt.datetime.now(dt.timezone.utc)
        status, ctype, body = answer(u.path, q, now)
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def start() -> tuple[http.server.ThreadingHTTPServer, str]:
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    srv.seen, srv.now = [], dt.datetime.now(dt.timezone.utc)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    return srv, f"http://127.0.0.1:{srv.server_address[1]}"


def config(base: str, days: int = 3) -> str:
    """A btcstress.yaml pointing every source at the fake."""
    return f"""sources:
  live_days: {days}
  http: {{timeout: 5, attempts: 2, backoff: 0.01, rates: {{"{base.split('//')[1]}": 1000}}}}
  binance: {{spot_url: "{base}", usdm_url: "{base}", archive_url: "{base}"}}
  mempool: {{url: "{base}", rate: 1000}}
  farside: {{url: "{base}/bitcoin-etf-flow-all-data/", rate: 1000}}
  edgar: {{url: "{base}", archives_url: "{base}", rate: 10, user_agent: "btcstress-tests tests@example.org"}}
"""
