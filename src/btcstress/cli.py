"""The command line: btcstress ingest | findings | report | quarantine ..."""

from __future__ import annotations

import datetime as dt
import json
import sys
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console
from rich.table import Table as RichTable

from btcstress import config as cfg
from btcstress.errors import BtcstressError, InputError

app = typer.Typer(add_completion=False, no_args_is_help=True,
                  help="Bitcoin market stress from raw public data: findings with provenance, briefs.")
ingest_app = typer.Typer(no_args_is_help=True, help="Load data into the store.")
app.add_typer(ingest_app, name="ingest")

# Wide enough for tables when output is piped (Rich assumes 80 columns without a terminal).
console = Console(width=None if sys.stdout.isatty() else 160)
err = Console(stderr=True, width=None if sys.stderr.isatty() else 160)


class State:
    db: Optional[Path] = None
    config: dict = {}


state = State()


@app.callback()
def main(db: Optional[Path] = typer.Option(None, "--db", envvar="BTCSTRESS_DB",
                                           help="Store file [default: data/btcstress.duckdb]"),
         config: Optional[Path] = typer.Option(None, "--config", help="YAML config (params, sources)")):
    state.db = db
    state.config = cfg.load(config)


def _store(read_only: bool = False):
    from btcstress.store import Store
    return Store(state.db, read_only=read_only)


def _fail(exc: BtcstressError) -> None:
    err.print(f"[bold red]error:[/] {exc}", highlight=False, soft_wrap=True)
    raise typer.Exit(exc.exit_code)


def _as_of(as_of: Optional[str], date: Optional[str]) -> dt.datetime:
    if as_of and date:
        raise InputError("give --as-of or --date, not both")
    if date:
        return cfg.end_of_day(date)
    if as_of:
        return cfg.parse_instant(as_of)
    return dt.datetime.now(dt.timezone.utc).replace(microsecond=0)


def _price(price: Optional[float]) -> Optional[float]:
    if price is not None and not price > 0:
        raise InputError(f"--price must be a positive number of USD, got {price}")
    return price


AS_OF = typer.Option(None, "--as-of", help="UTC instant, e.g. 2026-02-06T08:00Z [default: now]")
DATE = typer.Option(None, "--date", help="As of the end of UTC day D (YYYY-MM-DD)")
PRICE = typer.Option(None, "--price", help="Re-value price-dependent findings at this hypothetical USD price")
PARAM = typer.Option([], "--param", help="Model parameter override AREA.NAME=VALUE (repeatable)")
BACKEND = typer.Option(None, "--backend", envvar="BTCSTRESS_BACKEND",
                       help="Engine: duckdb (the store file) or spark (the Parquet warehouse of `export parquet`) "
                            "[default: config `backend:`, else duckdb]")


def _read_store(backend: Optional[str]):
    """The read side for --backend (see btcstress.backends): use as `with _read_store(backend) as store:`."""
    from btcstress import backends
    return backends.open_read_store(state.db, state.config, backend)


@ingest_app.command("snapshot")
def ingest_snapshot(folder: Path = typer.Argument(Path("../shared/data"), help="Snapshot folder"),
                    allow_quarantine: bool = typer.Option(False, "--allow-quarantine",
                                                          help="Exit 0 even when rows were quarantined")):
    """Import every known file of a snapshot folder (idempotent: a second run adds nothing)."""
    from btcstress import ingest
    from btcstress.sources import snapshot
    try:
        if not folder.is_dir():
            raise InputError(f"snapshot folder {folder} not found")
        jobs, unknown = snapshot.plan(folder)
        with _store() as store:
            report = ingest.run(store, [ingest.events_job(), *jobs], allow_quarantine=True,
                                progress=lambda o: err.print(f"[dim]reading {o}[/]", highlight=False))
        _finish_ingest(report, unknown, allow_quarantine, what="rows")
    except BtcstressError as exc:
        _fail(exc)


def _finish_ingest(report, unknown: list[str], allow_quarantine: bool, *, what: str = "rows",
                   table: bool = True) -> None:
    """Print the per-file table and the summary; exit 1 when rows were quarantined and not accepted."""
    if table:
        _print_ingest(report, unknown)
    if report.quarantined and not allow_quarantine:
        err.print(f"[red]{report.summary()}[/]; {what} were quarantined (see `btcstress quarantine`); "
                  "rerun with --allow-quarantine to accept", highlight=False)
        raise typer.Exit(1)
    console.print(report.summary(), highlight=False)


def _print_ingest(report, unknown: list[str]) -> None:
    t = RichTable(title="ingest", show_lines=False)
    for c in ("file", "table", "rows in", "new", "updated", "unchanged", "quarantined", "skipped"):
        t.add_column(c, justify="left" if c in ("file", "table") else "right")
    for f in report.files:
        t.add_row(f.file.removeprefix("snapshot/"), ",".join(f.targets), str(f.lines_in), str(f.result.new),
                  str(f.result.updated), str(f.result.unchanged), str(f.quarantined),
                  str(sum(f.skipped.values())))
    err.print(t)
    for f in report.files:  # why rows were skipped (not observations), so every line is accounted for
        for reason, n in f.skipped.items():
            err.print(f"[dim]{f.file}: {n} skipped: {reason}[/]", highlight=False)
    for u in unknown:
        err.print(f"[yellow]no importer for {u}: not read[/]", highlight=False)


@app.command()
def findings(as_of: Optional[str] = AS_OF, date: Optional[str] = DATE, price: Optional[float] = PRICE,
             ids: Optional[str] = typer.Option(None, "--ids", help="Comma-separated finding ids or prefixes"),
             param: list[str] = PARAM,
             as_json: bool = typer.Option(False, "--json", help="JSON array on stdout"),
             backend: Optional[str] = BACKEND):
    """The findings as of an instant, with their provenance."""
    from btcstress import metrics
    try:
        t = _as_of(as_of, date)
        with _read_store(backend) as store:
            fs = metrics.compute(store, t, params=cfg.params(state.config, param), price=_price(price))
        chosen = list(fs)
        if ids:
            want = [i.strip() for i in ids.split(",") if i.strip()]
            chosen = [f for f in chosen if any(f.id.startswith(w) for w in want)]
        if as_json:
            sys.stdout.write(json.dumps([f.model_dump(mode="json") for f in chosen], indent=2) + "\n")
            return
        _print_findings(chosen, t)
    except BtcstressError as exc:
        _fail(exc)


def _print_findings(chosen, t: dt.datetime) -> None:
    from btcstress.brief.fmt import text
    table = RichTable(title=f"findings as of {t:%Y-%m-%d %H:%M}Z")
    for c in ("id", "subject", "value", "window", "kind", "sources"):
        table.add_column(c, overflow="fold")
    for f in chosen:
        value = f.note if f.value is None else text(f.value, f.unit)
        if f.hypothetical:
            value += " (hypothetical)"
        table.add_row(f.id, f.subject, value, f.window, f.kind, "; ".join(s.origin for s in f.sources))
    console.print(table)


@app.command()
def report(as_of: Optional[str] = AS_OF, date: Optional[str] = DATE, price: Optional[float] = PRICE,
           out: Path = typer.Option(Path("out"), "--out", help="Folder for brief.md, brief.html, brief.json"),
           param: list[str] = PARAM, backend: Optional[str] = BACKEND):
    """Write the brief (Markdown, self-contained HTML, JSON) as of an instant."""
    from btcstress import brief, metrics
    from btcstress.brief import render
    try:
        t = _as_of(as_of, date)
        with _read_store(backend) as store:
            fs = metrics.compute(store, t, params=cfg.params(state.config, param), price=_price(price),
                                 with_series=True)
        paths = render.write(brief.build(fs), out)
        console.print(f"brief as of {t:%Y-%m-%dT%H:%M}Z written to {paths['html']} (also {paths['md'].name}, "
                      f"{paths['json'].name})", highlight=False)
    except BtcstressError as exc:
        _fail(exc)


@app.command()
def quarantine(limit: int = typer.Option(50, help="Rows to show"),
               as_json: bool = typer.Option(False, "--json")):
    """Rows that failed validation, with file, line, field and reason."""
    try:
        with _store(read_only=True) as store:
            q = store.table("quarantine").order_by(["file", "line"]).limit(limit).execute()
        if as_json:
            sys.stdout.write(q.to_json(orient="records", date_format="iso") + "\n")
            return
        t = RichTable(title="quarantine")
        for c in ("file", "line", "field", "value", "reason"):
            t.add_column(c, overflow="fold")
        for r in q.itertuples():
            t.add_row(r.file, str(r.line), r.field, str(r.value), r.reason)
        console.print(t)
    except BtcstressError as exc:
        _fail(exc)


# --- etf (issue 4) ------------------------------------------------------------------------------

@ingest_app.command("etf")
def ingest_etf(file: Path = typer.Argument(..., help="A Farside BTC ETF flow table: CSV, TSV or HTML (US$m)"),
               published_at: Optional[str] = typer.Option(
                   None, "--published-at",
                   help="When this version of the table was published (UTC instant): every day in the file "
                        "is stored as that vintage. Without it, each day's vintage is its date + --delay-hours."),
               delay_hours: Optional[float] = typer.Option(
                   None, "--delay-hours",
                   help="Publication rule when --published-at is not given: every fund of a day counts from "
                        "00:00 UTC of its date + this. Default: each fund from its usual publication time "
                        "(etf_funds.csv publication_hours; IBIT later than the others)"),
               allow_quarantine: bool = typer.Option(False, "--allow-quarantine",
                                                     help="Exit 0 even when rows were quarantined")):
    """Import one vintage of the ETF flow table (idempotent per date, fund and vintage)."""
    from functools import partial

    from btcstress import ingest
    from btcstress.sources import farside
    try:
        if not file.is_file():
            raise InputError(f"file {file} not found")
        if delay_hours is not None and not delay_hours >= 0:
            raise InputError(f"--delay-hours must be >= 0, got {delay_hours}")
        at = cfg.parse_instant(published_at) if published_at else None
        origin = f"file:{file.name}" + (f"@{at:%Y-%m-%dT%H:%MZ}" if at else "")
        delay = dt.timedelta(hours=delay_hours) if delay_hours is not None else None
        parser = partial(farside.parse, published_at=at, publication_delay=delay)
        with _store() as store:
            report = ingest.run(store, [(file, origin, parser)], allow_quarantine=True)
        _finish_ingest(report, [], allow_quarantine, what="rows")
    except BtcstressError as exc:
        _fail(exc)


# --- leverage (issue 5): recorded liquidation feeds and cited figures ---------------------------

cite_app = typer.Typer(no_args_is_help=True, help="Figures reported by others, shown as kind=cited findings.")
app.add_typer(cite_app, name="cite")

EVENT_VENUES = ("binance", "bybit", "okx")


@ingest_app.command("events")
def ingest_events(file: Path = typer.Argument(..., help="Recorded feed: one raw websocket message per line (JSONL)"),
                  venue: str = typer.Option(..., "--venue", help="binance (USD-M forceOrder) | bybit | okx"),
                  allow_quarantine: bool = typer.Option(False, "--allow-quarantine",
                                                        help="Exit 0 even when messages were quarantined")):
    """Import recorded liquidation events (idempotent: replaying a file adds nothing)."""
    from btcstress import ingest
    from btcstress.sources import binance_force_order, bybit_liquidation, okx_liquidation
    parsers = {"binance": binance_force_order.parse, "bybit": bybit_liquidation.parse, "okx": okx_liquidation.parse}
    try:
        if venue not in parsers:
            raise InputError(f"--venue {venue!r}: expected one of {', '.join(EVENT_VENUES)}")
        if not file.is_file():
            raise InputError(f"events file {file} not found")
        with _store() as store:
            report = ingest.run(store, [(file, f"events/{venue}/{file.name}", parsers[venue])], allow_quarantine=True)
        _finish_ingest(report, [], allow_quarantine, what="messages")
    except BtcstressError as exc:
        _fail(exc)


@cite_app.command("add")
def cite_add(finding: str = typer.Option(..., "--finding", help="Finding id, e.g. liquidations.total_usd"),
             subject: str = typer.Option(..., "--subject", help="What the figure is about, as the source says "
                                                                "(e.g. crypto, BTC, BTCUSDT)"),
             value: str = typer.Option(..., "--value", help="The number as reported, e.g. 2.65e9"),
             unit: Optional[str] = typer.Option(None, "--unit", help="USD, pct, ..."),
             as_of: str = typer.Option(..., "--as-of", help="UTC instant the figure is for / was published"),
             window: Optional[str] = typer.Option(None, "--window", help="e.g. 24h"),
             source_: str = typer.Option(..., "--source", help="Who reported it"),
             url: Optional[str] = typer.Option(None, "--url", help="Where"),
             note: Optional[str] = typer.Option(None, "--note", help="Coverage, caveats")):
    """Record one figure reported by someone else."""
    from btcstress import ingest
    from btcstress.sources import citations
    try:
        parsed = citations.single({"finding": finding, "subject": subject, "value": value, "unit": unit,
                                   "as_of": as_of, "window": window, "source": source_, "url": url, "note": note})
        with _store() as store:
            ingest.run(store, [(None, "cite:cli", parsed)])
        console.print(f"cited {finding} ({subject}) = {value} {unit or ''} from {source_}", highlight=False)
    except BtcstressError as exc:
        _fail(exc)


@cite_app.command("import")
def cite_import(file: Path = typer.Argument(..., help="CSV: finding,subject,value,unit,as_of,window,source,url,note"),
                allow_quarantine: bool = typer.Option(False, "--allow-quarantine")):
    """Record cited figures from a CSV file."""
    from btcstress import ingest
    from btcstress.sources import citations
    try:
        if not file.is_file():
            raise InputError(f"citations file {file} not found")
        with _store() as store:
            report = ingest.run(store, [(file, f"cite:{file.name}", citations.parse)], allow_quarantine=True)
        _finish_ingest(report, [], allow_quarantine, table=False)
    except BtcstressError as exc:
        _fail(exc)


@cite_app.command("list")
def cite_list(as_json: bool = typer.Option(False, "--json")):
    """The cited figures in the store."""
    try:
        with _store(read_only=True) as store:
            q = store.table("citations").order_by(["as_of", "finding_id"]).execute()
        if as_json:
            sys.stdout.write(q.drop(columns=["ingested_at"]).to_json(orient="records", date_format="iso") + "\n")
            return
        t = RichTable(title="citations")
        for c in ("finding_id", "subject", "value", "unit", "as_of", "window", "source"):
            t.add_column(c, overflow="fold")
        for r in q.itertuples():
            t.add_row(r.finding_id, r.subject, f"{r.value:,.6g}", r.unit or "", f"{r.as_of:%Y-%m-%d %H:%M}Z",
                      r.window or "", r.source)
        console.print(t)
    except BtcstressError as exc:
        _fail(exc)


# --- claims (issue 7): check a story's figures against the findings --------------------------------

@app.command()
def check(claims_file: Path = typer.Argument(..., help="Claims CSV: claim_id,finding_id,subject,comparator,"
                                                         "value,unit,as_of,window,quote"),
          as_of: Optional[str] = AS_OF, date: Optional[str] = DATE, param: list[str] = PARAM,
          as_json: bool = typer.Option(False, "--json", help='JSON on stdout: {"verdicts": [...]}'),
          as_md: bool = typer.Option(False, "--md", help="Markdown table on stdout"),
          backend: Optional[str] = BACKEND):
    """Give each claim a verdict (supported / contradicted / unverifiable) with the computed value,
    the difference and the reason, from the data known at the as-of instant."""
    from btcstress import claims
    try:
        if as_json and as_md:
            raise InputError("give --json or --md, not both")
        t = _as_of(as_of, date)
        rows = claims.read(claims_file)
        with _read_store(backend) as store:
            verdicts = claims.check(store, rows, t, params=cfg.params(state.config, param))
        if as_json:
            sys.stdout.write(json.dumps(claims.to_json(verdicts, t), indent=2) + "\n")
            return
        if as_md:
            sys.stdout.write(claims.to_markdown(verdicts, t))
            return
        _print_verdicts(verdicts, t)
    except BtcstressError as exc:
        _fail(exc)


def _print_verdicts(verdicts, t: dt.datetime) -> None:
    from btcstress.claims import _diff, _show
    colour = {"supported": "green", "contradicted": "red", "unverifiable": "yellow"}
    table = RichTable(title=f"claims checked as of {t:%Y-%m-%d %H:%M}Z", show_lines=True)
    for c, kw in (("claim", {}), ("finding", {"overflow": "fold"}), ("claimed", {"justify": "right"}),
                  ("computed", {"justify": "right"}), ("difference", {"justify": "right"}), ("verdict", {}),
                  ("reason", {"overflow": "fold", "ratio": 1})):
        table.add_column(c, **kw)
    for v in verdicts:
        table.add_row(v.claim_id, (v.finding or {}).get("id", ""), _show(v.claimed, v.unit), _show(v.computed, v.unit),
                      _diff(v), f"[{colour[v.verdict]}]{v.verdict}[/]", v.reason)
    console.print(table)
    n = {k: sum(v.verdict == k for v in verdicts) for k in colour}
    console.print(f"{n['supported']} supported, {n['contradicted']} contradicted, {n['unverifiable']} unverifiable",
                  highlight=False)


# --- live (issue 9): connectors and the monitor ---------------------------------------------------

LIVE_DEFAULT_DAYS = 730  # `ingest live` without --since: the last two years


@ingest_app.command("live")
def ingest_live(since: Optional[str] = typer.Option(None, "--since",
                                                    help="UTC date or instant to fetch from [default: two years ago, "
                                                         "or sources.live_days]; "
                                                         "each source resumes from its checkpoint when later"),
                sources: str = typer.Option(",".join(("binance", "mempool", "farside", "edgar")), "--sources",
                                            help="Comma-separated: binance, mempool, farside, edgar"),
                allow_quarantine: bool = typer.Option(False, "--allow-quarantine",
                                                      help="Exit 0 even when rows were quarantined")):
    """Fetch from the primary public sources into the store (resumable, idempotent, gaps backfilled)."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from btcstress import connectors, ingest
    try:
        names = [n.strip() for n in sources.split(",") if n.strip()]
        unknown = [n for n in names if n not in connectors.PULLS]
        if unknown or not names:
            raise InputError(f"--sources {sources!r}: unknown {unknown}; known: {', '.join(connectors.PULLS)}")
        now = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None, microsecond=0)
        conf = state.config.get("sources") or {}
        if since is None:
            start = now - dt.timedelta(days=int(conf.get("live_days", LIVE_DEFAULT_DAYS)))
        elif len(since.strip()) == 10:  # a bare date: from the start of that UTC day
            start = cfg.end_of_day(since).replace(tzinfo=None) - dt.timedelta(days=1)
        else:
            start = cfg.parse_instant(since).replace(tzinfo=None)
        if start >= now:
            raise InputError(f"--since {since} is not in the past")
        with _store() as store:
            ingest.run(store, [ingest.events_job()], allow_quarantine=True)
            with Progress(TextColumn("[bold]{task.fields[source]:<8}"), BarColumn(), MofNCompleteColumn(),
                          TextColumn("{task.description}"), TimeElapsedColumn(), console=err,
                          transient=False) as bar:
                tasks = {n: bar.add_task("waiting", source=n, total=None) for n in names}

                def progress_for(name):
                    def cb(desc, done, total):
                        bar.update(tasks[name], description=desc, completed=done, total=total)
                    return cb
                reports = connectors.run(store, names, since=start, conf=conf, progress_for=progress_for)
                for n in names:
                    t = bar.tasks[tasks[n]]
                    bar.update(tasks[n], completed=t.total or 1, total=t.total or 1, description="done")
        _print_live(reports, start)
        errors = [r for r in reports if r.error]
        quarantined = sum(r.quarantined for r in reports)
        if errors:
            err.print(f"[red]{len(errors)} source(s) failed[/]: " + "; ".join(f"{r.source}: {r.error}" for r in errors),
                      highlight=False, soft_wrap=True)
            raise typer.Exit(1)
        if quarantined and not allow_quarantine:
            err.print(f"[red]{quarantined} row(s) quarantined[/] (see `btcstress quarantine`); rerun with "
                      "--allow-quarantine to accept", highlight=False)
            raise typer.Exit(1)
    except BtcstressError as exc:
        _fail(exc)


def _print_live(reports, start: dt.datetime) -> None:
    t = RichTable(title=f"ingest live since {start:%Y-%m-%d %H:%M}Z")
    for c in ("source", "fetched", "stored", "unchanged", "quarantined", "gaps found", "gaps filled", "requests",
              "notes"):
        t.add_column(c, justify="left" if c in ("source", "notes") else "right", overflow="fold")
    for r in reports:
        note = r.error or "; ".join(r.notes[:3]) + (f" (+{len(r.notes) - 3})" if len(r.notes) > 3 else "")
        t.add_row(r.source, str(r.fetched), str(r.stored), str(r.unchanged), str(r.quarantined), str(r.gaps_found),
                  str(r.gaps_filled), str(r.requests), note)
    err.print(t)


@app.command()
def monitor(rules: Path = typer.Option(..., "--rules", help="YAML alert rules (name, finding, subject, window, "
                                                             "op, value, cooldown)"),
            replay: list[Path] = typer.Option([], "--replay", help="Replay recorded raw messages (.jsonl/.jsonl.gz "
                                                                   "files or folders) at full speed, then exit"),
            out: Optional[Path] = typer.Option(None, "--out", help="Also append alerts (JSON lines) to this file"),
            webhook: Optional[str] = typer.Option(None, "--webhook", help="Also POST each alert (JSON) to this URL"),
            venues: str = typer.Option("binance,bybit,okx", "--venues", help="Liquidation streams to connect"),
            pulls: str = typer.Option("binance,mempool,farside,edgar", "--pull",
                                      help="Periodic REST pulls ('' for none)"),
            raw_dir: Path = typer.Option(Path("data/raw"), "--raw-dir", help="Where raw messages are kept (gzip JSONL)"),
            batch: int = typer.Option(500, "--batch", help="Write to the store every N messages ..."),
            batch_ms: float = typer.Option(1000.0, "--batch-ms", help="... or every T milliseconds"),
            recompute_ms: float = typer.Option(1000.0, "--recompute-ms",
                                               help="Recompute changed findings at most this often"),
            duration: Optional[float] = typer.Option(None, "--duration", help="Live: stop after this many seconds"),
            param: list[str] = PARAM):
    """Watch the streams and pulls, recompute findings that changed, print alerts as JSON lines."""
    import asyncio

    from btcstress import monitor as mon
    from btcstress.connectors.streams import RawRecorder
    try:
        rule_list = mon.load_rules(rules)
        if batch < 1 or batch_ms <= 0 or recompute_ms < 0:
            raise InputError("--batch must be >= 1, --batch-ms > 0 and --recompute-ms >= 0")
        sinks: list = [mon.StdoutSink()]
        if out:
            sinks.append(mon.FileSink(out))
        mconf = state.config.get("monitor") or {}
        webhook = webhook or mconf.get("webhook")
        if webhook:
            sinks.append(mon.WebhookSink(webhook, log=lambda m: err.print(f"[yellow]{m}[/]", highlight=False)))
        log = lambda m: err.print(f"[dim]{m}[/]", highlight=False)  # noqa: E731
        with _store() as store:
            m = mon.Monitor(store, rule_list, sinks, params=cfg.params(state.config, param), batch_messages=batch,
                            batch_ms=batch_ms, recompute_ms=recompute_ms, clock="stream" if replay else "wall",
                            recorder=None if replay else RawRecorder(raw_dir), log=log)
            if replay:
                stats = m.replay(replay)
            else:
                vs = [v.strip() for v in venues.split(",") if v.strip()]
                ps = [p.strip() for p in pulls.split(",") if p.strip()]
                stats = asyncio.run(mon.run_live(m, venues=vs, pulls=ps, conf=state.config.get("sources") or {},
                                                 duration=duration, intervals=mconf.get("intervals")))
        err.print(f"{stats.messages} messages, {stats.events} events ({stats.new} new, {stats.duplicates} repeats "
                  f"collapsed), {stats.quarantined} quarantined, {stats.recomputes} recomputes, {stats.alerts} alerts",
                  highlight=False)
    except BtcstressError as exc:
        _fail(exc)
    except KeyboardInterrupt:
        err.print("stopped", highlight=False)


# --- api (issue 10): HTTP API and dashboard ------------------------------------------------------

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

        from btcstress.api import create_app
        application = create_app(db, config=state.config, cache_size=cache_size)
        err.print(f"btcstress API on http://{host}:{port}/ (dashboard), /docs (OpenAPI); store {db}; writes "
                  f"{'on (bearer token)' if application.state.service.token else 'off'}", highlight=False)
        uvicorn.run(application, host=host, port=port, log_level="warning")
    except BtcstressError as exc:
        _fail(exc)


# --- mcp (issue 18): the agent interface ---------------------------------------------------------

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
        _fail(exc)


# --- scenario (issue 8): what happens if BTC goes to $X --------------------------------------------

@app.command()
def scenario(as_of: Optional[str] = AS_OF, date: Optional[str] = DATE,
             price: Optional[float] = typer.Option(None, "--price", help="Scenario price in USD"),
             shock: Optional[str] = typer.Option(None, "--shock", help="Scenario as a change from price.last_usd, "
                                                                      "e.g. -20%"),
             ladder: Optional[str] = typer.Option(None, "--ladder", help="Several shocks from price.last_usd, e.g. "
                                                                        "-10,-20,-30"),
             param: list[str] = PARAM,
             as_json: bool = typer.Option(False, "--json", help="JSON array of every finding on stdout"),
             backend: Optional[str] = BACKEND):
    """What happens if BTC goes to a price: liquidations and their cascade, hashrate and companies under
    water, and every price-dependent finding re-valued (marked hypothetical)."""
    from btcstress import metrics
    from btcstress.scenario import shock as sh
    try:
        given = [n for n, v in (("--price", price), ("--shock", shock), ("--ladder", ladder)) if v is not None]
        if len(given) != 1:
            raise InputError("give exactly one of --price USD, --shock PCT or --ladder PCT,PCT,..."
                             + (f" (got {', '.join(given)})" if given else ""))
        t = _as_of(as_of, date)
        params = cfg.params(state.config, param)
        from btcstress.scenario.params import DEFAULTS as scenario_defaults
        unknown = set(params.get("scenario", {})) - set(scenario_defaults)
        if unknown:  # before computing anything
            raise InputError(f"unknown scenario parameter(s) {sorted(unknown)}; known: {sorted(scenario_defaults)}")
        rungs = sh.parse_ladder(ladder) if ladder is not None else None
        pct = sh.parse_shock(shock) if shock is not None else None
        p = sh.check_price(price) if price is not None else None
        with _read_store(backend) as store:
            if pct is not None:
                now = metrics.compute(store, t, params=params, areas=("price",)).get("price.last_usd")
                if now is None or now.value is None:
                    from btcstress.errors import NoDataError
                    raise NoDataError(f"no observed price (price.last_usd) at {t:%Y-%m-%dT%H:%MZ} to apply --shock to")
                p = sh.shocked_price(float(now.value), pct)
            if rungs is not None:
                params.setdefault("scenario", {})["ladder_pct"] = rungs
            fs = metrics.compute(store, t, params=params, price=p)
        if as_json:
            sys.stdout.write(json.dumps(fs.to_json(), indent=2) + "\n")
            return
        if rungs is not None:
            _print_ladder(fs.get("scenario.ladder"), t)
            return
        _print_scenario(fs, t)
    except BtcstressError as exc:
        _fail(exc)


def _print_scenario(fs, t: dt.datetime) -> None:
    from btcstress.brief.fmt import text
    table = RichTable(title=f"scenario as of {t:%Y-%m-%d %H:%M}Z (hypothetical)")
    for c in ("id", "value", "window", "detail"):
        table.add_column(c, overflow="fold")
    for f in fs:
        if not f.id.startswith("scenario.") or f.id == "scenario.ladder":
            continue
        value = f.note if f.value is None else text(f.value, "usd_short" if f.unit == "USD" and abs(f.value) >= 1e8
                                                    else f.unit)
        d = f.detail
        extra = ""
        if f.id == "scenario.cascade_price_usd" and f.value is not None:
            extra = (f"depth {text(d['depth_usd_per_pct'], 'usd_short')} per 1%, "
                     f"{text(d['liquidations_with_cascade_usd'], 'usd_short')} liquidated incl. cascade")
        elif f.id == "scenario.hashrate_underwater_pct" and f.value is not None:
            extra = (f"all-in by power price {d['all_in_by_power_price_pct']}; electricity only "
                     f"{d['electricity_only_by_power_price_pct']}")
        elif f.id == "scenario.entities_underwater" and f.value is not None:
            extra = "; ".join(f"{e['entity']} {text(e['pnl_usd'], 'usd_short')} ({e['pnl_pct']:+.1f}%)"
                              for e in d["entities"])
            if d.get("etf_holders"):
                extra += f"; ETF holders {d['etf_holders']['pnl_pct']:+.1f}%"
        elif f.id == "scenario.liquidations_usd" and f.value is not None:
            extra = (f"{d['current_usd']:,.0f} -> {d['scenario_usd']:,.0f}; open interest "
                     f"{text(d['open_interest_usd'], 'usd_short')} ({d['open_interest_date']})")
        table.add_row(f.id, value, f.window, extra)
    console.print(table)
    _print_findings([f for f in fs if f.hypothetical and not f.id.startswith("scenario.")], t)


def _print_ladder(f, t: dt.datetime) -> None:
    from btcstress.brief.fmt import text
    if f is None or f.value is None:
        console.print(f"scenario.ladder: {f.note if f is not None else 'not available'}", highlight=False)
        return
    table = RichTable(title=f"price ladder as of {t:%Y-%m-%d %H:%M}Z from {f.detail['current_usd']:,.0f} (hypothetical)")
    for c in ("shock", "price", "long liquidations", "cascade price", "cascade move", "hashrate under water "
              "(all-in / electricity)", "treasuries under water", "ETF holders P&L"):
        table.add_column(c, justify="right")
    for r in f.value:
        table.add_row(f"{r['shock_pct']:+.0f}%", text(r["price_usd"], "USD"), text(r["liquidations_usd"], "usd_short"),
                      text(r["cascade_price_usd"], "USD"), text(r["cascade_extra_move_pct"], "pct"),
                      f"{text(r['hashrate_underwater_pct'], 'pct')} / {text(r['hashrate_underwater_electricity_pct'], 'pct')}",
                      f"{r['treasuries_underwater']} ({', '.join(r['treasuries_underwater_names'] or [])})"
                      if r["treasuries_underwater"] is not None else text(None, ""),
                      text(r["etf_holders_pnl_pct"], "pct"))
    console.print(table)


# --- spark (issue 11): the Parquet warehouse Spark reads -----------------------------------------

export_app = typer.Typer(no_args_is_help=True, help="Write the store out for other engines.")
app.add_typer(export_app, name="export")


@export_app.command("parquet")
def export_parquet(folder: Optional[Path] = typer.Argument(
        None, help="Warehouse folder [default: config spark.warehouse, BTCSTRESS_WAREHOUSE, else data/warehouse]")):
    """Write every canonical table as Parquet partitioned by month (FOLDER/<table>/month=YYYY-MM/),
    the warehouse `--backend spark` reads."""
    from btcstress import backends
    try:
        target = folder or backends.settings(state.config, "duckdb").warehouse
        if target.exists() and not target.is_dir():
            raise InputError(f"{target} exists and is not a folder")
        with _store(read_only=True) as store:
            res = backends.export_parquet(store, target)
        t = RichTable(title=f"exported to {res.path}")
        t.add_column("table")
        t.add_column("rows", justify="right")
        for name, n in res.tables.items():
            t.add_row(name, f"{n:,}")
        err.print(t)
        console.print(f"{sum(res.tables.values()):,} rows in {len(res.tables)} tables written to {res.path}",
                      highlight=False)
    except BtcstressError as exc:
        _fail(exc)


if __name__ == "__main__":
    app()
