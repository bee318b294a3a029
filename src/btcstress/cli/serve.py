"""`btcstress serve`: the HTTP API and the dashboard (btcstress.api)."""

from __future__ import annotations

from typing import Optional

import typer

from btcstress.cli import app, err, fail, state
from btcstress.errors import BtcstressError, InputError


@app.command()
def serve(host: str = typer.Option("127.0.0.1", "--host", help="Interface to listen on"),
          port: int = typer.Option(8000, "--port", help="TCP port"),
          cache_size: Optional[int] = typer.Option(None, "--cache-size",
                                                   help="Finding sets kept in memory (0 = no cache) [default: 64]")):
    """Serve the HTTP API (OpenAPI at /docs) and the dashboard (at /). Read-only unless api.token
    (btcstress.yaml) or BTCSTRESS_API_TOKEN is set."""
    try:
        if not 0 < port < 65536:
            raise InputError(f"--port must be 1..65535, got {port}")
        if cache_size is not None and cache_size < 0:
            raise InputError(f"--cache-size must be >= 0, got {cache_size}")
        from btcstress.store import Store, default_db_path
        db = state.db or default_db_path()
        Store(db, read_only=True).close()  # fail now, clearly, when there is no store
        import uvicorn

        from btcstress.api import create_app, guard
        api_cfg = state.config.get("api") or {}
        if not isinstance(api_cfg, dict):
            raise InputError("config `api:` must be a mapping (token, allowed_hosts, limits)")
        hosts = api_cfg.get("allowed_hosts")
        if hosts is None:  # the loopback names, plus the interface asked for when it is a name or an address
            hosts = list(guard.LOOPBACK) + ([host] if host not in ("0.0.0.0", "::", *guard.LOOPBACK) else [])
        application = create_app(db, config=state.config, cache_size=cache_size, allowed_hosts=hosts)
        err.print(f"btcstress API on http://{host}:{port}/ (dashboard), /docs (OpenAPI); store {db}; writes "
                  f"{'on (bearer token)' if application.state.service.token else 'off'}; answers to Host "
                  f"{', '.join(hosts)} (api.allowed_hosts)", highlight=False)
        # Header deadline, keep-alive, connection and header-size limits: api.protocol; body size and
        # time: api.guard. Access log on stderr (one line per request), unless -q; -vv adds uvicorn's
        # debug output.
        from btcstress.api.protocol import server_options
        level = {-1: "error", 0: "info", 1: "info"}.get(state.verbosity, "debug")
        uvicorn.run(application, host=host, port=port, log_level=level, access_log=state.verbosity >= 0,
                    log_config=_log_config(), **server_options(api_cfg.get("limits")))
    except BtcstressError as exc:
        fail(exc)


def _log_config() -> dict:
    """uvicorn's own logging setup, with the access log on stderr (uvicorn's default is stdout, which is
    for answers) and every line stamped with its UTC time like btcstress's other records."""
    import copy

    import uvicorn.config
    conf = copy.deepcopy(uvicorn.config.LOGGING_CONFIG)
    conf["handlers"]["access"]["stream"] = "ext://sys.stderr"
    for f in conf["formatters"].values():
        f["fmt"], f["datefmt"] = "%(asctime)s " + f["fmt"], "%Y-%m-%dT%H:%M:%SZ"
    return conf
