"""`btcstress ingest live` (the connectors) and `btcstress monitor` (streams, pulls, alerts)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Optional

import typer
from rich.table import Table as RichTable

from btcstress import config as cfg
from btcstress.cli import PARAM, app, err, fail, ingest_app, model_params, open_store, state
from btcstress.errors import BtcstressError, InputError

LIVE_DEFAULT_DAYS = 730  # `ingest live` without --since: the last two years


@ingest_app.command("live")
def ingest_live(since: Optional[str] = typer.Option(None, "--since",
                                                    help="UTC date or instant to fetch from [default: two years ago, "
                                                         "or sources.live_days]; "
                                                         "each source resumes from its checkpoint when later"),
                sources: Optional[str] = typer.Option(None, "--sources",
                                                      help="Comma-separated pulls (binance, mempool, ...) "
                                                           "[default: every pull the areas declare]"),
                allow_quarantine: bool = typer.Option(False, "--allow-quarantine",
                                                      help="Exit 0 even when rows were quarantined")):
    """Fetch from the primary public sources into the store (resumable, idempotent, gaps backfilled)."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from btcstress import connectors, ingest
    try:
        names = list(connectors.pulls()) if sources is None else [n.strip() for n in sources.split(",") if n.strip()]
        unknown = [n for n in names if n not in connectors.pulls()]
        if unknown or not names:
            raise InputError(f"--sources {sources!r}: unknown {unknown}; known: {', '.join(connectors.pulls())}")
        now = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None, microsecond=0)
        conf = state.config.get("sources") or {}
        if since is None:
            start = now - dt.timedelta(days=int(conf.get("live_days", LIVE_DEFAULT_DAYS)))
        elif len(since.strip()) == 10:  # a bare date: from the start of that UTC day
            start = cfg.end_of_day(since).replace(tzinfo=None, hour=0, minute=0) - dt.timedelta(days=1)
        else:
            start = cfg.parse_instant(since).replace(tzinfo=None)
        if start >= now:
            raise InputError(f"--since {since} is not in the past")
        with open_store() as store:
            ingest.run(store, [ingest.events_job()], allow_quarantine=True, refresh=False)  # connectors.run refreshes
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
        fail(exc)


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
                                                                   "files or folders) at full speed, then exit [default: none: live]"),
            out: Optional[Path] = typer.Option(None, "--out", help="Also append alerts (JSON lines) to this file [default: none]"),
            webhook: Optional[str] = typer.Option(None, "--webhook", help="Also POST each alert (JSON) to this URL [default: config monitor.webhook, else none]"),
            webhook_format: str = typer.Option("json", "--webhook-format",
                                               help="json (the alert) or slack (adds Slack's `text` field: the "
                                                    "one-line message)"),
            venues: str = typer.Option("binance,bybit,okx", "--venues", help="Liquidation streams to connect"),
            pulls: Optional[str] = typer.Option(None, "--pull",
                                                help="Periodic REST pulls ('' for none) [default: every pull the "
                                                     "areas declare]"),
            raw_dir: Path = typer.Option(Path("data/raw"), "--raw-dir", help="Where raw messages are kept (gzip JSONL)"),
            batch: int = typer.Option(500, "--batch", help="Write to the store every N messages ..."),
            batch_ms: float = typer.Option(1000.0, "--batch-ms", help="... or every T milliseconds"),
            recompute_ms: float = typer.Option(1000.0, "--recompute-ms",
                                               help="Recompute changed findings at most this often"),
            duration: Optional[float] = typer.Option(None, "--duration", help="Live: stop after this many seconds [default: run until stopped]"),
            dead_letter: Path = typer.Option(Path("data/undelivered-alerts.jsonl"), "--dead-letter",
                                             help="Alerts the webhook could not take, one JSON line each "
                                                  "(the monitor then exits 1)"),
            param: list[str] = PARAM):
    """Watch the streams and pulls, recompute findings that changed, print alerts as JSON lines.

    (Over 60 lines only by its 14 options' declarations; the body is under 50.)"""
    import logging
    import signal

    from btcstress import monitor as mon
    from btcstress.connectors.streams import RawRecorder
    hook = None
    # A service stop (SIGTERM) ends the monitor as Ctrl-C does: what was read is written, alerts drained.
    previous = signal.signal(signal.SIGTERM, signal.default_int_handler)
    try:
        rule_list = mon.load_rules(rules)
        if batch < 1 or batch_ms <= 0 or recompute_ms < 0:
            raise InputError("--batch must be >= 1, --batch-ms > 0 and --recompute-ms >= 0")
        if duration is not None and not duration > 0:
            raise InputError(f"--duration must be > 0 seconds, got {duration}")
        mconf = state.config.get("monitor") or {}
        if not isinstance(mconf, dict):
            raise InputError("config `monitor:` must be a mapping (webhook, intervals)")
        sinks, hook = _sinks(out, webhook or mconf.get("webhook"), mconf.get("webhook_format", webhook_format),
                             dead_letter)
        log = logging.getLogger("btcstress.monitor").warning  # rules it cannot evaluate, gaps, failures (-q: off)
        if replay:  # a replay is one batch job: the store is held for it
            with open_store() as store:
                m = mon.Monitor(store, rule_list, sinks, params=model_params(param),
                                batch_messages=batch, batch_ms=batch_ms, recompute_ms=recompute_ms, clock="stream",
                                log=log)
                stats = m.replay(replay)
        else:  # live: the store is opened per batch, so the API and other commands can read between batches
            def make(opener):
                return mon.Monitor(None, rule_list, sinks, params=model_params(param), batch_messages=batch,
                                   batch_ms=batch_ms, recompute_ms=recompute_ms, clock="wall",
                                   recorder=RawRecorder(raw_dir), log=log, opener=opener)
            stats = _run_live(make, venues, pulls, duration, mconf, log)
        err.print(f"{stats.messages} messages, {stats.events} events ({stats.new} new, {stats.duplicates} repeats "
                  f"collapsed), {stats.quarantined} quarantined, {stats.recomputes} recomputes, {stats.alerts} alerts",
                  highlight=False)
    except BtcstressError as exc:
        _close_hook(hook)
        fail(exc)
    except KeyboardInterrupt:
        err.print("stopped", highlight=False)
    finally:
        signal.signal(signal.SIGTERM, previous)
    _close_hook(hook)


def _sinks(out: Optional[Path], webhook: Optional[str], webhook_format: str, dead_letter: Path):
    """Where alerts go: stdout always, a file and a webhook when asked; (sinks, the webhook sink or None)."""
    import logging

    from btcstress import monitor as mon
    from btcstress.delivery import WebhookSink, validate_webhook_url
    if webhook_format not in ("json", "slack"):
        raise InputError(f"--webhook-format {webhook_format!r}: expected json or slack")
    if webhook:
        validate_webhook_url(webhook)  # at start, not at the first alert
    sinks: list = [mon.StdoutSink()]
    if out:
        sinks.append(mon.FileSink(out))
    hook = None
    if webhook:
        hook = WebhookSink(webhook, dead_letter, fmt=webhook_format, log=logging.getLogger("btcstress.delivery").warning)
        sinks.append(hook)
    return sinks, hook


def _run_live(make, venues: str, pulls: Optional[str], duration: Optional[float], mconf: dict, log):
    """The live monitor (`make(opener)` builds it): streams and pulls on one event loop until stopped."""
    import asyncio

    from btcstress import connectors
    from btcstress import monitor as mon
    from btcstress.store_files import BatchOpener
    open_store().close()  # created (or refused) now, not at the first batch
    # Batches stay in the WAL; a checkpoint every minute and at the end (see store_files).
    opener = BatchOpener(state.db)
    m = make(opener)
    vs = [v.strip() for v in venues.split(",") if v.strip()]
    ps = list(connectors.pulls()) if pulls is None else [p.strip() for p in pulls.split(",") if p.strip()]
    try:
        return asyncio.run(mon.run_live(m, venues=vs, pulls=ps, conf=state.config.get("sources") or {},
                                        duration=duration, intervals=mconf.get("intervals")))
    finally:
        try:
            opener.final(wait=mon.FINAL_FLUSH_WAIT)
        except BtcstressError as exc:  # the WAL stays; the next open folds it in
            log(f"final checkpoint skipped: {exc}")


def _close_hook(hook) -> None:
    """Drain the webhook queue; undelivered alerts are in the dead-letter file and make the exit 1."""
    if hook is None:
        return
    s = hook.close()
    err.print(f"webhook: {s.delivered} delivered, {s.dead_lettered} dead-lettered", highlight=False)
    if s.dead_lettered:
        err.print(f"[red]error:[/] {s.dead_lettered} alert(s) not delivered to the webhook; kept in {hook.dead_letter}",
                  highlight=False)
        raise typer.Exit(1)

