"""The typed views of Finding.detail (btcstress.details) read what the metrics write, and a renamed or
retyped key fails at the reader instead of reading as None."""

from __future__ import annotations

import datetime as dt

import pytest
from pydantic import ValidationError

from btcstress.details import (EntitiesUnderwater, Episode, EtfCostBasis, Flagged, ForwardReturns, Ladder,
                               StressIndex)
from btcstress.findings import Finding

T = dt.datetime(2026, 2, 6, 8, tzinfo=dt.timezone.utc)


def test_the_views_read_the_crash_moment_findings(crash_findings):
    fs = crash_findings
    idx = fs.get("stress.index")
    view = StressIndex.of(idx)
    # the index is the sum of the weighted contributions of the forces it combines
    assert view.n_components == len(view.contributions) >= 2
    assert sum(view.contributions.values()) == pytest.approx(idx.value, abs=1e-3)
    episodes = [f for f in fs.all("stress.episode") if f.value is not None]
    assert episodes
    for rank, f in enumerate(episodes, start=1):
        e = Episode.of(f)
        assert e.rank == rank and set(e.forward) == {"1d", "7d", "30d"}
        assert all((h.value is None) == (h.status != "known") for h in e.forward.values())
    for f in fs.all("stress.episodes.forward_return_pct"):
        if f.value is not None:
            r = ForwardReturns.of(f)
            assert r.min <= f.value <= r.max
    basis = fs.get("etf.holders_cost_basis_usd")
    b = EtfCostBasis.of(basis)
    assert basis.value == pytest.approx(b.net_usd / b.net_btc, rel=1e-6)  # sum of net USD / sum of net BTC
    assert Ladder.of(fs.get("scenario.ladder")).current_usd == fs.value("price.last_usd")
    assert all(Flagged.of(f).suspect is None or f.note for f in fs)  # a flag is always said in the note too


def test_a_renamed_or_retyped_key_fails_at_the_reader():
    renamed = Finding(id="stress.episode", subject="#1", value="2022-06-18", unit="date", as_of=T,
                      detail={"rank": 1, "index": 2.5, "distance": 0.4, "forwards": {}})
    with pytest.raises(ValidationError, match="forward"):
        Episode.of(renamed)
    retyped = Finding(id="scenario.entities_underwater", value=1, unit="entities", as_of=T,
                      detail={"names": ["Strategy"], "etf_holders": {"pnl_pct": "minus thirty"}})
    with pytest.raises(ValidationError, match="pnl_pct"):
        EntitiesUnderwater.of(retyped)
    # extra keys are allowed: a metric may say more than its readers need
    assert EntitiesUnderwater.of(Finding(id="x.y", as_of=T, detail={"names": [], "more": 1})).names == []
