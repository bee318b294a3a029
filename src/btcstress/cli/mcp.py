"""`btcstress mcp`: btcstress for AI assistants over the Model Context Protocol (btcstress.mcp_server)."""

from __future__ import annotations

import typer

from btcstress.cli import app, err, fail, state
from btcstress.errors import BtcstressError, InputError


@app.command()
def mcp(http: bool = typer.Option(False, "--http", help="Serve streamable HTTP on loopback instead of stdio"),
        port: int = typer.Option(8765, "--port", help="TCP port for --http")):
    """Serve btcstress to AI assistants over the Model Context Protocol (stdio; docs/MCP.md). Read-only."""
    try:
        if not 0 < port < 65536:
            raise InputError(f"--port must be 1..65535, got {port}")
        from btcstress import mcp_server
        if http:
            err.print(f"btcstress MCP server on http://127.0.0.1:{port}/mcp", highlight=False)
        mcp_server.run(state.db, state.config, http=http, port=port)
    except BtcstressError as exc:
        fail(exc)
