"""The monitor never fails silently (issue 18): a mistyped rule id is refused with the nearest id, a
second replay of a recording still evaluates the rules, a rule the run cannot evaluate is named at
start, a websocket that never opens is logged and recorded as a stream gap, and every alert carries a
one-line message (also as Slack's `text`)."""

from __future__ import annotations

import asyncio
import json
import socket

import pytest
from typer.testing import CliRunner

from btcstress.cli import app
from btcstress.monitor import Monitor, load_rules
from btcstress.store import Store
from tests.connectors.conftest import LIVE, fixture_lines, http_server  # noqa: F401 (fixtures)
from tests.test_monitor import BTC_TOTAL, RULES


@pytest.fixture()
def stream_file(tmp_path):
    p = tmp_path / "recorded.jsonl"
    p.write_text("\n".join(l for rel in LIVE.values() for l in fixture_lines(rel)) + "\n")
    return p


def _monitor_cli(db, *args):
    return CliRunner().invoke(app, ["--db", str(db), "monitor", *args])


def test_a_mistyped_rule_id_under_a_valid_prefix_is_refused_with_the_nearest_id(tmp_path, stream_file):
    rules = tmp_path / "r.yaml"
    rules.write_text("- {name: typo, finding: liquidations.totl_usd, subject: BTC, op: '>', value: 1000}\n")
    r = _monitor_cli(tmp_path / "m.duckdb", "--replay", str(stream_file), "--rules", str(rules))
    assert r.exit_code == 2, r.output
    assert "liquidations.totl_usd" in r.output and "did you mean liquidations.total_usd" in r.output


def test_replaying_a_recording_twice_evaluates_the_rules_both_times(tmp_path, stream_file):
    rules = tmp_path / "r.yaml"
    rules.write_text(RULES)
    db = tmp_path / "m.duckdb"
    runs = [_monitor_cli(db, "--replay", str(stream_file), "--rules", str(rules)) for _ in range(2)]
    for r in runs:
        assert r.exit_code == 0, r.output
    alerts = [[json.loads(l) for l in r.stdout.splitlines() if l.startswith("{")] for r in runs]
    assert [len(a) for a in alerts] == [1, 1]
    assert alerts[1][0]["value"] == pytest.approx(BTC_TOTAL)  # same events, stored once, judged again
    with Store(db, read_only=True) as s:  # storage stayed idempotent
        assert s.table("liquidations").count().execute() == 4


def test_a_rule_the_replay_cannot_evaluate_is_named_at_start(tmp_path, stream_file):
    rules = tmp_path / "r.yaml"
    rules.write_text(RULES + "- {name: cheap-btc, finding: price.last_usd, op: '<', value: 50000}\n")
    r = _monitor_cli(tmp_path / "m.duckdb", "--replay", str(stream_file), "--rules", str(rules))
    assert r.exit_code == 0, r.output
    first = r.stderr.splitlines()[0]
    assert "rule cheap-btc (price.last_usd) cannot be evaluated in this run" in first
    assert "btc-liquidations-24h" not in r.stderr.split("cannot be evaluated")[0]


def test_a_websocket_that_never_opens_is_logged_and_recorded_as_a_stream_gap(tmp_path):
    from btcstress.connectors.http import RetryPolicy
    from btcstress.monitor import run_live
    with socket.socket() as sock:  # a loopback port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    logs: list[str] = []
    rules = load_rules_from(tmp_path, "- {name: liq, finding: liquidations.count, subject: BTC, op: '>', value: 0}\n")

    async def main():
        with Store(tmp_path / "live.duckdb") as store:
            m = Monitor(store, rules, [], batch_messages=1, recompute_ms=0, log=logs.append)
            conf = {"binance": {"ws_stream_url": f"ws://127.0.0.1:{port}/ws/!forceOrder@arr"}}
            await run_live(m, venues=["binance"], pulls=[], conf=conf, duration=1.0,
                           reconnect=RetryPolicy(attempts=10**6, backoff=0.05, max_backoff=0.1))
            return store.table("stream_gaps").execute()

    gaps = asyncio.run(main())
    assert len(gaps) == 1 and gaps["venue"][0] == "binance"
    assert "connect failed" in gaps["reason"][0] and gaps["ended"][0] > gaps["started"][0]
    failures = [l for l in logs if l.startswith("binance: connect failed")]
    assert len(failures) >= 2  # every attempt is told, not only the first


def test_each_alert_has_a_one_line_message_and_slack_gets_it_as_text(tmp_path, stream_file, http_server):
    srv, url = http_server([(200, {}, {"ok": True})])
    rules = tmp_path / "r.yaml"
    rules.write_text(RULES)
    r = _monitor_cli(tmp_path / "m.duckdb", "--replay", str(stream_file), "--rules", str(rules),
                     "--webhook", url + "/slack", "--webhook-format", "slack")
    assert r.exit_code == 0, r.output
    a = json.loads(next(l for l in r.stdout.splitlines() if l.startswith("{")))
    k = BTC_TOTAL / 1000
    assert a["message"] == f"BTC liquidations.total_usd 24h ${k:.1f}k > $20.0k [rule btc-liquidations-24h]"
    posted = json.loads(next(s for s in srv.seen if s["method"] == "POST")["body"])
    assert posted["text"] == a["message"] and posted["rule"] == "btc-liquidations-24h"


def load_rules_from(tmp_path, text):
    p = tmp_path / "rules.yaml"
    p.write_text(text)
    return load_rules(p)
