"""The live monitor: the venues' websockets, the periodic pulls and the recompute ticker on one event
loop, until a duration passes, a signal arrives or a task fails."""

from __future__ import annotations

import asyncio
import datetime as dt
import threading
from typing import Any

from btcstress.connectors.base import now_utc
from btcstress.errors import InputError
from btcstress.monitor.core import Monitor, MonitorStats

PULL_EVERY = {"binance": 60.0, "mempool": 600.0, "farside": 900.0, "edgar": 3600.0}
STOP_GRACE = 5.0  # seconds every task gets to end once the monitor stops, before it is cancelled


async def run_live(monitor: Monitor, *, venues: list[str], pulls: list[str], conf: dict[str, Any] | None = None,
                   since: dt.datetime | None = None, duration: float | None = None,
                   intervals: dict[str, float] | None = None, stop=None, reconnect=None) -> MonitorStats:
    """Run the venues' websockets and the periodic pulls until `duration` seconds pass (or forever)."""
    from btcstress.connectors.streams import run_stream, specs

    stop = stop or asyncio.Event()
    if monitor.lock is None:
        monitor.lock = threading.Lock()
    all_specs = specs(conf)
    unknown = [v for v in venues if v not in all_specs]
    if unknown:
        raise InputError(f"unknown venue(s) {unknown}; known: {', '.join(all_specs)}")
    loop = asyncio.get_running_loop()
    monitor.announce((["liquidations"] if venues else []) + list(pulls))
    live = _Live(monitor, loop, stop, conf=conf, since=since, every={**PULL_EVERY, **(intervals or {})})
    tasks = [asyncio.create_task(run_stream(all_specs[v], live.on_message, stop, on_gap=live.on_gap,
                                            on_error=live.on_error, policy=reconnect))
             for v in venues]
    tasks += [asyncio.create_task(live.puller(p)) for p in pulls]
    tasks.append(asyncio.create_task(live.ticker()))
    installed = _stop_on_signals(loop, stop)
    failed: list[BaseException] = []
    try:
        failed = await _until_stopped(tasks, stop, duration)
    finally:
        stop.set()
        for sig in installed:
            loop.remove_signal_handler(sig)
        monitor.flush(final=True)
        if monitor.recorder is not None:
            monitor.recorder.close()
    if failed:
        raise failed[0]
    return monitor.stats


async def _until_stopped(tasks: list[asyncio.Task], stop: asyncio.Event, duration: float | None) -> list[BaseException]:
    """Until `duration` passes, a signal sets `stop`, or a task fails (a bad URL): then every task gets
    STOP_GRACE seconds to end and is cancelled (a pull stuck in a slow request keeps its thread, not
    the monitor). Returns the tasks' failures."""
    waiter = asyncio.ensure_future(stop.wait())
    await asyncio.wait([waiter, *tasks], timeout=duration, return_when=asyncio.FIRST_COMPLETED)
    stop.set()
    waiter.cancel()
    done, pending = await asyncio.wait(tasks, timeout=STOP_GRACE)
    for t in pending:
        t.cancel()
    return [t.exception() for t in done if not t.cancelled() and t.exception() is not None]


class _Live:
    """What the streams, the pullers and the ticker call back into (one monitor, one event loop)."""

    def __init__(self, monitor: Monitor, loop, stop: asyncio.Event, *, conf, since, every: dict[str, float]):
        self.monitor, self.loop, self.stop, self.conf, self.since, self.every = monitor, loop, stop, conf, since, every

    def on_error(self, venue: str, what: str) -> None:
        self.monitor.log(f"{venue}: {what}")

    def on_message(self, venue: str, raw: str, at: dt.datetime) -> None:
        # A malformed frame is quarantined by its parser; anything else that goes wrong with one
        # message (the store busy, a disk error) is logged and the stream goes on: the buffer keeps
        # what it could not write and the next flush retries it.
        try:
            self.monitor.message(venue, raw, received=at)
        except Exception as exc:  # noqa: BLE001 - one message must never stop the monitor
            self.monitor.stats.errors += 1
            self.monitor.log(f"{venue}: message not processed ({type(exc).__name__}: {str(exc)[:200]})")

    def on_gap(self, venue: str, started: dt.datetime, ended: dt.datetime, reason: str) -> None:
        self.monitor.log(f"{venue}: stream gap {started:%H:%M:%S}..{ended:%H:%M:%S}Z recorded ({reason})")
        self.monitor.gaps.append((venue, started, ended, reason))  # written with the next batch, never skipped

    def pull_once(self, name: str) -> None:
        from btcstress import connectors
        m = self.monitor
        with m.lock:
            store = m.opener() if m.opener is not None else m.store
            try:
                reps = connectors.run(store, [name], since=self.since or (now_utc() - dt.timedelta(days=3)),
                                      conf=self.conf)
            finally:
                if m.opener is not None:
                    store.close()
        for r in reps:
            if r.error:
                m.log(f"{name}: {r.error}")
            elif r.stored:
                self.loop.call_soon_threadsafe(m.pulled, name)

    async def puller(self, name: str) -> None:
        while not self.stop.is_set():
            await asyncio.to_thread(self.pull_once, name)
            await self._sleep(self.every[name])

    async def ticker(self) -> None:
        while not self.stop.is_set():
            try:
                self.monitor.tick()
            except Exception as exc:  # noqa: BLE001 - a failed recompute is logged; the next tick retries
                self.monitor.stats.errors += 1
                self.monitor.log(f"tick: {type(exc).__name__}: {str(exc)[:200]}")
            await self._sleep(0.25)

    async def _sleep(self, seconds: float) -> None:
        """Wait `seconds`, or less when the monitor stops."""
        try:
            await asyncio.wait_for(self.stop.wait(), timeout=seconds)
        except asyncio.TimeoutError:
            pass


def _stop_on_signals(loop, stop) -> list:
    """SIGTERM (a service stop) and SIGINT (Ctrl-C) set `stop`: the monitor flushes and closes."""
    import signal
    installed = []
    for sig in (signal.SIGTERM, signal.SIGINT):
        try:
            loop.add_signal_handler(sig, stop.set)
            installed.append(sig)
        except (NotImplementedError, RuntimeError, ValueError):  # not the main thread, or no signals here
            pass
    return installed
