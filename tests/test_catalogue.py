"""The finding catalogue (btcstress.areas: every id with unit, subjects, definition, area) agrees with the
metric code, with what the metrics emit, and with docs/METRICS.md, which carries it as a generated table."""

from __future__ import annotations

import re

import pytest

from btcstress import areas
from tests.conftest import CRASH, ROOT


def test_metrics_md_carries_the_catalogue_as_generated():
    text = (ROOT / "docs" / "METRICS.md").read_text()
    table = re.search(r"<!-- catalogue:start -->\n(.*?)<!-- catalogue:end -->", text, re.S)
    assert table, "docs/METRICS.md has no catalogue block"
    assert table.group(1) == areas.markdown(), "regenerate it: python -m btcstress.areas"


def test_every_id_written_in_the_metric_code_is_declared_and_every_declared_id_is_in_the_code():
    from btcstress import declared
    in_code = set(declared.finding_ids())
    declared_ids = set(areas.catalogue())
    assert in_code - declared_ids == set(), "ids the code emits but no area declares"
    assert declared_ids - in_code == set(), "ids declared but written nowhere in the metric code"


@pytest.mark.parametrize("price", [None, 50_000.0])
def test_what_the_metrics_emit_at_the_crash_is_declared_with_its_unit(store, price):
    from btcstress import metrics
    fs = metrics.compute(store, CRASH, price=price, with_series=True)
    assert len(fs) > 50
    for f in fs:
        spec = areas.finding(f.id)
        assert spec is not None, f"{f.id} is emitted but not declared"
        assert areas.of_finding(f.id) is areas.catalogue()[f.id][1]
        if f.unit:
            assert f.unit == spec.unit, f"{f.id}: emitted in {f.unit!r}, declared {spec.unit!r}"
        assert f.kind in spec.kind.split("/"), f"{f.id}: kind {f.kind} not in {spec.kind}"


def test_a_declaration_outside_its_prefixes_or_twice_is_refused(tmp_path, monkeypatch):
    pkg = tmp_path / "badcatalogue"
    pkg.mkdir()
    (pkg / "__init__.py").write_text(
        "from btcstress.areas import Area, FindingSpec as F\n"
        "AREA = Area(name='bad', title='B', prefixes=('bad',), metrics='btcstress.metrics.market',\n"
        "            findings=(F('bad.x', 'USD', 'BTC', 'x'), F('bad.x', 'USD', 'BTC', 'x'), F('etf.y', '', '', '')))\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(areas.AreaError) as e:
        areas.register("badcatalogue")
    assert "'bad.x' is declared twice" in str(e.value) and "'etf.y' is not under its prefixes" in str(e.value)
