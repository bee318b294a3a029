"""`python -m btcstress.mcp_server [--db PATH] [--http]`: the same server as `btcstress mcp`."""

import argparse

from btcstress.mcp_server import run

if __name__ == "__main__":
    ap = argparse.ArgumentParser(prog="python -m btcstress.mcp_server")
    ap.add_argument("--db", default=None, help="store file (default data/btcstress.duckdb or BTCSTRESS_DB)")
    ap.add_argument("--http", action="store_true", help="streamable HTTP on loopback instead of stdio")
    ap.add_argument("--port", type=int, default=8765)
    a = ap.parse_args()
    from btcstress import config as cfg
    run(a.db, cfg.load(None), http=a.http, port=a.port)
