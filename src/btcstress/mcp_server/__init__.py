"""btcstress as an MCP server: AI assistants ask it for findings, the brief, claim verdicts,
scenarios and explanations (`btcstress mcp`; docs/MCP.md).

Built on the official `mcp` Python SDK (its MCPServer, formerly FastMCP): the SDK derives each
tool's input schema from the function's signature and runs sync tools in worker threads. Read-only:
the store is opened read-only for each question. Bad arguments come back as tool errors (the SDK's
ToolError, `is_error: true`), never as a crash of the server.
"""

from __future__ import annotations

import os
from typing import Annotated, Any

from pydantic import Field

from btcstress.errors import BtcstressError

INSTRUCTIONS = (
    "btcstress answers, from raw public data and at any UTC instant, how stressed the Bitcoin market is, "
    "why, and what happens if it falls further. Every number is a finding with provenance (sources, method, "
    "params, as-of). Omit as_of to answer as of the latest data (the answer says so in as_of_basis). "
    "Use ids() and params() to discover what exists; explain(id) says how a number is made."
)

AsOf = Annotated[str | None, Field(description="UTC instant, e.g. 2026-02-06T08:00Z (a bare date = the end of "
                                               "that UTC day); omitted = as of the latest data")]


def build(db: str | os.PathLike | None = None, config: dict[str, Any] | None = None):
    """The MCP server over the store `db` (default data/btcstress.duckdb).

    Longer than 60 lines on purpose: it is the list of tools, each a few lines registered with the
    server's decorator over the shared `answers` (the logic is in answers.py); split up, every part
    would need the server and the answers passed in, for no gain in reading."""
    from mcp.server.mcpserver import MCPServer
    from mcp.server.mcpserver.exceptions import ToolError
    from mcp.types import ToolAnnotations

    from btcstress.mcp_server.answers import Answers

    answers = Answers(db, config=config)
    server = MCPServer("btcstress", instructions=INSTRUCTIONS, version=_version(), log_level="WARNING")
    ro = ToolAnnotations(readOnlyHint=True, destructiveHint=False, idempotentHint=True, openWorldHint=False)

    def guard(fn):
        """Turn btcstress' own errors (bad input, no data) into tool errors with their message."""
        import functools

        @functools.wraps(fn)
        def wrapped(*a, **kw):
            if "from" in kw:  # the SDK passes arguments by their wire names; `from` is a keyword in Python
                kw["from_"] = kw.pop("from")
            try:
                return fn(*a, **kw)
            except BtcstressError as exc:
                raise ToolError(f"{type(exc).__name__}: {exc}") from None
        return wrapped

    @server.tool(annotations=ro)
    @guard
    def findings(as_of: AsOf = None,
                 ids: Annotated[str | None, Field(description="comma-separated finding ids or id prefixes, "
                                                               "e.g. price.,liquidations.total_usd")] = None,
                 subject: Annotated[str | None, Field(description="only findings about this subject: BTC, "
                                                                   "IBIT, Strategy, ...")] = None,
                 price: Annotated[float | None, Field(description="re-value price-dependent findings at this "
                                                                   "hypothetical USD price")] = None) -> dict[str, Any]:
        """Findings as of an instant: {as_of, as_of_basis, price, count, findings: [{id, subject, value, unit,
        window, kind, method, params, sources, note, ...}]}."""
        return answers.findings(as_of, ids, subject, price)

    @server.tool(annotations=ro)
    @guard
    def history(id: Annotated[str, Field(description="finding id, e.g. price.last_usd")],
                subject: Annotated[str | None, Field(description="subject, e.g. BTC")] = None,
                from_: Annotated[str | None, Field(alias="from", description="first instant or date")] = None,
                to: Annotated[str | None, Field(description="last instant or date")] = None,
                every: Annotated[str | None, Field(description="step, e.g. 1d or 1h")] = None) -> dict[str, Any]:
        """A finding through time: its value at every step between from and to."""
        return _history(answers, id, subject, from_, to, every)

    @server.tool(annotations=ro)
    @guard
    def brief(as_of: AsOf = None) -> str:
        """The written brief (Markdown) as of an instant: headline, highlights, one section per force
        (price, miners, ETFs, leverage, treasuries), scenarios, and the sources of every number."""
        return answers.brief(as_of)

    @server.tool(annotations=ro)
    @guard
    def check(claims: Annotated[str | list[dict[str, Any]], Field(
                  description="claims as CSV text with the header claim_id,finding_id,subject,comparator,value,"
                              "unit,as_of,window,quote, or a list of objects with those fields "
                              "(comparator: approx | gt | lt | eq)")],
              as_of: AsOf = None) -> dict[str, Any]:
        """Check a story's claims against the data: a verdict (supported / contradicted / unverifiable) per
        claim, with the computed value, the difference, the tolerance, the reason and the finding compared."""
        return answers.check(claims, as_of)

    @server.tool(annotations=ro)
    @guard
    def scenario(price: Annotated[float | None, Field(description="scenario BTC price in USD")] = None,
                 shock: Annotated[str | None, Field(description="a change from the observed price, e.g. -20%")] = None,
                 ladder: Annotated[str | None, Field(description="several shocks, e.g. -10,-20,-30")] = None,
                 as_of: AsOf = None) -> dict[str, Any]:
        """What happens if BTC goes to a price (give exactly one of price, shock or ladder): liquidations and
        their cascade, hashrate and companies under water, every price-dependent finding re-valued
        (all marked hypothetical)."""
        return answers.scenario(price, shock, ladder, as_of)

    @server.tool(annotations=ro)
    @guard
    def stress(as_of: AsOf = None) -> dict[str, Any]:
        """The stress index as of an instant (`stress.index`: components used, contributions), each force's
        component (`stress.component.<force>`) and `stress.index_highest_since`, with provenance."""
        return answers.stress(as_of)

    @server.tool(annotations=ro)
    @guard
    def episodes(as_of: AsOf = None,
                 top: Annotated[int, Field(ge=1, le=50, description="how many past episodes")] = 5) -> dict[str, Any]:
        """The past days most like the instant in stress-component space, one per episode, each with its
        components, headline finding and 1/7/30-day BTC returns ("not known yet" where the horizon had not
        ended), and the median and range of what came next. Not a forecast (docs/METRICS.md#stress)."""
        return answers.episodes(as_of, top)

    @server.tool(annotations=ro)
    @guard
    def explain(id: Annotated[str, Field(description="finding id, e.g. miners.hashprice_usd_ph_day")],
                subject: Annotated[str | None, Field(description="only this subject")] = None,
                as_of: AsOf = None) -> dict[str, Any]:
        """How a finding is made, in words: its value, method, parameters, sources and note."""
        return answers.explain(id, subject, as_of)

    @server.tool(annotations=ro)
    @guard
    def ids() -> dict[str, Any]:
        """Every finding id with its unit, kind, one-line definition and subjects."""
        return answers.ids()

    @server.tool(annotations=ro)
    @guard
    def params() -> dict[str, Any]:
        """Every model parameter with its default and the source the default is taken from."""
        return answers.params_catalogue()

    return server


MAX_HISTORY_ROWS = 5000  # one answer an assistant can read; ask a narrower from..to or a coarser every


def _history(answers, id: str, subject: str | None, from_: str | None, to: str | None,
             every: str | None) -> dict[str, Any]:
    """The history engine's answer (btcstress.open(path).history), as rows with their provenance."""
    import json as _json

    import btcstress
    from btcstress import envelope
    from btcstress.declared import finding_ids
    from btcstress.errors import InputError
    if getattr(btcstress, "open", None) is None:
        from btcstress.errors import NoDataError
        raise NoDataError("not available: the history engine (btcstress.open(path).history) is not part of "
                          "this build; ask findings(as_of=...) for single instants instead")
    known = finding_ids()
    if id not in known:
        raise InputError(f"unknown finding id {id!r}{envelope.did_you_mean(id, known)} (the ids tool lists them)")
    with answers.lock, btcstress.open(answers.db) as bs:
        df = bs.history(id, start=from_, end=to, subject=subject, every=every or "1d")
    how = df.attrs.get("how")
    df = df.reset_index()
    truncated = len(df) > MAX_HISTORY_ROWS
    if truncated:
        df = df.tail(MAX_HISTORY_ROWS)
    rows = _json.loads(df.to_json(orient="records", date_format="iso", date_unit="s"))
    for r in rows:  # ISO with Z, like every other instant btcstress prints
        for k, v in r.items():
            if isinstance(v, str) and len(v) >= 19 and v[10:11] == "T" and v.endswith("+00:00"):
                r[k] = v[:-6] + "Z"
    # Provenance: the method and sources of the finding as of the last instant (the rows share the method;
    # each row's own sources are those rows cut at its as-of).
    last = None
    if rows:
        t_last = cfg_instant(rows[-1]["as_of"])
        last = answers.findings_at(t_last).get(id, subject)
    return {"id": id, "subject": subject, "from": from_, "to": to, "every": every or "1d", "count": len(rows),
            "truncated": truncated, "how": how, "rows": rows,
            "method": last.method if last else None,
            "sources_at_last_row": [x.model_dump(mode="json") for x in last.sources] if last else [],
            "provenance": "each row is the finding as of that instant, computed with the method above from the "
                          "sources as they were known then; `how` says, per area, whether rows were read from "
                          "finding_history or computed"}


def cfg_instant(text: str):
    from btcstress import config as cfg
    return cfg.parse_instant(text)


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version
    try:
        return version("btcstress")
    except PackageNotFoundError:
        return "0+unknown"


def run(db: str | os.PathLike | None = None, config: dict[str, Any] | None = None, *, http: bool = False,
        host: str = "127.0.0.1", port: int = 8765) -> None:
    """Serve over stdio (what assistants launch), or streamable HTTP on loopback at http://host:port/mcp."""
    server = build(db, config)
    if http:
        server.run("streamable-http", host=host, port=port)
    else:
        server.run("stdio")
