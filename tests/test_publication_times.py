"""Publication times (docs/DATA.md, "Publication times"): what a brief depends on when a time is unproven.

CryptoQuant's daily rows count from D+1 00:00 UTC; the real time is not documented (docs/DATA.md,
"CryptoQuant's publication time"). A brief written 8 hours after a day ends must not depend on it:
shifting every CryptoQuant row later by anything under 8 hours leaves the 2026-02-06T08:00Z findings
unchanged, value for value.
"""

from __future__ import annotations

import datetime as dt
import math
import shutil

import pytest

from tests.conftest import CRASH

LAG = dt.timedelta(hours=7, minutes=59)


def _key(f):
    return (f.id, f.subject, f.window, f.kind)


def _same(a, b):
    if isinstance(a, float) and isinstance(b, float):
        return math.isclose(a, b, rel_tol=1e-12, abs_tol=1e-12) or (math.isnan(a) and math.isnan(b))
    return a == b


def test_the_crash_brief_does_not_depend_on_cryptoquant_publishing_within_8_hours(snapshot_db, tmp_path):
    from btcstress import metrics, schema
    from btcstress.store import Store
    late = tmp_path / "late.duckdb"
    shutil.copy(snapshot_db, late)
    with Store(late) as s:
        shifted = 0
        for name in schema.TABLES:
            if name == "quality" or "origin" not in [c[0] for c in s.duck.execute(f'DESCRIBE "{name}"').fetchall()]:
                continue
            n = s.duck.execute(f"""UPDATE "{name}" SET available_at = available_at + INTERVAL {LAG.seconds} SECOND
                                  WHERE origin LIKE '%cryptoquant%'""").fetchone()[0]
            shifted += n
        assert shifted > 10_000  # every CryptoQuant file was moved (price, network, miners, derivatives, caps)
        later = {_key(f): f for f in metrics.compute(s, CRASH)}
    with Store(snapshot_db, read_only=True) as s:
        base = {_key(f): f for f in metrics.compute(s, CRASH)}
    assert later.keys() == base.keys()
    diffs = [k for k in base if not _same(base[k].value, later[k].value)]
    assert diffs == []
    # The day the brief describes is still 2026-02-05 for the CryptoQuant composite.
    assert base[("price.close_usd", "BTC", "1d:2026-02-05", "computed")].value == pytest.approx(
        later[("price.close_usd", "BTC", "1d:2026-02-05", "computed")].value)
