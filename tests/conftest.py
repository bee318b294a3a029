"""Shared test fixtures. The snapshot in ../shared/data is read in place, never copied."""

from __future__ import annotations

import datetime as dt
import os
import shutil
from pathlib import Path

import pytest

from tests.nonet import sitecustomize as nonet

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(__import__("os").environ.get("BTCSTRESS_SHARED", ROOT.parent / "shared"))
SNAPSHOT = SHARED / "data"
FIXTURES = SHARED / "fixtures"

CRASH = dt.datetime(2026, 2, 6, 8, 0, tzinfo=dt.timezone.utc)


def utc(*args) -> dt.datetime:
    return dt.datetime(*args, tzinfo=dt.timezone.utc)


# The suite's longest items, longest first (seconds on one idle core: the CI log of main 11b66d7,
# 2026-12-02 01:03Z, docs/PERFORMANCE.md). `make test` runs xdist's loadgroup: each worker takes the next
# item in collection order when it runs low, so an item collected late and long is the run's tail (the
# Spark group, collected near the end, ran alone for ~5 minutes while the other worker had finished).
# pytest_collection_modifyitems puts these first (longest-first scheduling): the Spark group, then the
# long items that do not need the session store (they keep the second worker busy while the first
# builds it), then the long items that do. Ordering only: a stale entry costs balance, never a result.
LONGEST = (
    "tests/test_spark_parity.py",  # one xdist group (one JVM): ~420 s
    "tests/history/test_parity.py",  # the >= 100-instant parity parts: ~340 s in all
    "tests/test_crash_soak.py",  # 88 s, store-free
    "tests/test_store.py::test_sigkill_mid_run",  # 39 s, store-free
    "tests/connectors/test_ingest_live.py",  # 36 + 33 s, store-free
    "tests/metrics/test_leverage.py::test_single_venue_derivatives",  # 33 s, store-free (its own ingest)
    "tests/test_monitor_chaos.py",  # 32 + 31 s, store-free
    "tests/connectors/test_binance.py",  # ~20 s each under load, store-free
    "tests/metrics/test_leverage.py::test_cited_figures",  # 38 s
    "tests/api/test_dashboard.py",  # 30 + 20 s setup
    "tests/api/test_api.py::test_cite_needs_the_bearer_token",  # 28 s
    "tests/history/test_flow_areas_history.py",
    "tests/history/test_miners_history.py",
    "tests/history/test_leverage_history.py",
    "tests/history/test_notebook.py",
    "tests/mcp/test_mcp_stdio.py",  # 21 s
)


# Files whose tests run on one xdist worker (their module fixtures are too dear to build twice): the
# Spark module starts a JVM, exports a warehouse and caches its tables. Its `xdist_group` mark says the
# same, but under pytest 9 xdist's loadgroup no longer sees the mark (xdist 3.8 tags the group onto
# `item._nodeid`, which pytest 9's nodeid no longer reads), so the scheduler below groups by file here.
ONE_WORKER = {"tests/test_spark_parity.py": "spark"}


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config, log):
    """loadgroup, with the files in ONE_WORKER each one work unit (see there)."""
    if config.getvalue("dist") != "loadgroup":
        return None
    from xdist.scheduler import LoadGroupScheduling

    class Scheduling(LoadGroupScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return ONE_WORKER.get(nodeid.split("::", 1)[0]) or super()._split_scope(nodeid)

    return Scheduling(config, log)


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(config, items):
    """Longest first (LONGEST), the rest in collection order; a stable sort, so the items of a module
    stay together (module fixtures are built once per worker as before)."""
    def rank(item):
        for i, prefix in enumerate(LONGEST):
            if item.nodeid.startswith(prefix):
                if i == 0:
                    return (0, 0)
                return (1 if "snapshot_db" not in getattr(item, "fixturenames", ()) else 2, i)
        return (3, 0)
    items.sort(key=rank)


@pytest.fixture(scope="session", autouse=True)
def no_internet():
    """No test, and no Python subprocess a test starts, may reach a host other than the loopback
    (tests/nonet/sitecustomize.py): installed once for the whole session, before any other fixture."""
    with pytest.MonkeyPatch.context() as mp:
        nonet.install(mp.setattr)
        mp.setenv(nonet.ENV, "1")
        here = str(Path(nonet.__file__).parent)
        mp.setenv("PYTHONPATH", os.pathsep.join(p for p in (here, os.environ.get("PYTHONPATH")) if p))
        yield


@pytest.fixture(scope="session", autouse=True)
def no_stored_snapshots():
    """Ingest stores no whole snapshots for the brief (history/snapshots.py) in the suite: each costs a full
    computation with series (~1-5 s), and the suite's dozens of small ingests would add minutes.
    tests/history/test_snapshots.py turns them on where it tests them."""
    from btcstress.history.snapshots import KEEP_ENV
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv(KEEP_ENV, "0")
        yield


def missing(what: str):
    """Data or a tool a test needs is not here: under CI a failure (a skip never hides a regression),
    elsewhere a skip that says what is missing."""
    if os.environ.get("CI"):
        pytest.fail(f"{what} (CI must have ../shared beside the clone and the tools make test installs)")
    pytest.skip(what)


@pytest.fixture(scope="session")
def snapshot_dir() -> Path:
    if not SNAPSHOT.is_dir():
        if __import__("os").environ.get("CI"):  # in CI missing data is a failure, never a quiet skip
            pytest.fail(f"the shared snapshot is not at {SNAPSHOT} (CI must have ../shared beside the clone)")
        pytest.skip(f"the shared snapshot is not at {SNAPSHOT}")
    return SNAPSHOT


def snapshot_subset(tmp_path: Path, files: list[str]) -> Path:
    """A snapshot folder of symlinks to some of the shared files (read in place, not copied)."""
    root = tmp_path / "snap"
    for rel in files:
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).symlink_to(SNAPSHOT / rel)
    return root


def _ingest_snapshot(path: Path, snapshot_dir: Path) -> None:
    """The whole snapshot ingested into `path`, as `btcstress ingest snapshot --allow-quarantine` does."""
    from btcstress import ingest
    from btcstress.parsers import snapshot
    from btcstress.store import Store

    jobs, _ = snapshot.plan(snapshot_dir)
    with Store(path) as store:
        ingest.run(store, [ingest.events_job(), *jobs], allow_quarantine=True)


@pytest.fixture(scope="session")
def snapshot_db(tmp_path_factory, snapshot_dir) -> Path:
    """A store file with the whole snapshot ingested once per test session.

    Under xdist the workers share one ingest (~1 minute with finding_history's materialisation): the
    first worker to take the lock builds it in the session's common temporary folder (in a folder of
    another name, renamed when done, so a half-written store is never seen), the others wait for it; each
    worker then works on its own copy (with the read copy beside it, as an ingest leaves it), so no
    worker's test can touch another's file."""
    own = tmp_path_factory.mktemp("store") / "snapshot.duckdb"
    worker_id = os.environ.get("PYTEST_XDIST_WORKER")  # gw0, gw1, ... (set by pytest-xdist in its workers)
    if not worker_id:  # not under xdist: the basetemp's parent is shared by other pytest runs
        _ingest_snapshot(own, snapshot_dir)
        return own
    from filelock import FileLock

    root = tmp_path_factory.getbasetemp().parent
    common = root / "shared-store"
    with FileLock(f"{common}.lock"):
        if not common.is_dir():
            partial = root / f"shared-store.{worker_id}.partial"
            partial.mkdir()
            _ingest_snapshot(partial / own.name, snapshot_dir)
            partial.rename(common)
    for f in common.iterdir():  # the store and its read copy (store_files), modification times kept
        shutil.copy2(f, own.parent / f.name)
    return own


@pytest.fixture(scope="session")
def crash_findings(snapshot_db):
    """Every finding as of the crash moment (2026-02-06T08:00Z, with series), computed once per session
    (per xdist worker) for the tests that only read it: a full computation costs seconds, and a dozen
    tests in five modules ask for exactly this one. Never modify it in a test. (With series the stress area
    also adds its episode findings; every other finding is the same as without.)"""
    from btcstress import metrics
    from btcstress.store import Store
    with Store(snapshot_db, read_only=True) as s:
        return metrics.compute(s, CRASH, with_series=True)


@pytest.fixture(scope="session")
def crash_brief(crash_findings):
    """The brief built from `crash_findings`, once per session (read only)."""
    from btcstress import brief
    return brief.build(crash_findings)


@pytest.fixture()
def store(snapshot_db):
    """The snapshot store, read-only (tests that write make their own)."""
    from btcstress.store import Store
    with Store(snapshot_db, read_only=True) as s:
        yield s
