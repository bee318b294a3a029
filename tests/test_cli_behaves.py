"""The CLI as a new user meets it on an 80-column terminal (issue 18): --version, every default in
--help, a findings table that fits, "now" = the latest data (said so), typos answered with the nearest
names and exit 2, data text never eaten as markup, ids and params catalogues, ISO-Z JSON."""

from __future__ import annotations

import json
import re

import pytest
from typer.testing import CliRunner

from btcstress.cli import app

runner = CliRunner()
W80 = {"COLUMNS": "80"}
CRASH = ["--as-of", "2026-02-06T08:00Z"]


def test_version_and_completion():
    from importlib.metadata import version
    r = runner.invoke(app, ["--version"])
    assert r.exit_code == 0 and r.stdout.strip() == f"btcstress {version('btcstress')}"
    r = runner.invoke(app, ["--help"], env=W80)
    assert "--install-completion" in r.stdout and "--verbose" in r.stdout and "--quiet" in r.stdout


def _option_blocks(help_text: str) -> list[str]:
    """The Options section of a click help page, one string per option (its lines joined)."""
    section = help_text.split("Options:")[1].split("Commands:")[0]
    blocks: list[str] = []
    for line in section.splitlines():
        if re.match(r"^  -", line):
            blocks.append(line.strip())
        elif blocks and line.strip():
            blocks[-1] += " " + line.strip()
    return blocks


@pytest.mark.parametrize("cmd", [[], ["findings"], ["scenario"], ["serve"], ["quarantine"], ["monitor"], ["mcp"],
                                 ["ingest", "snapshot"]])
def test_help_shows_every_default(cmd):
    r = runner.invoke(app, [*cmd, "--help"], env=W80)
    assert r.exit_code == 0, r.output
    blocks = _option_blocks(r.stdout)
    assert blocks
    for block in blocks:
        first = block.split("  ")[0]
        if "<" not in first and "[" not in first:  # a flag (no value): off unless given
            continue
        assert "[default:" in block or "[required]" in block, (cmd, block)
    if not cmd:
        assert "[default: data/btcstress.duckdb]" in " ".join(blocks)


def _footnotes(below: str) -> dict[str, str]:
    """The notes written under an 80-column table: "[n]" -> the note, its wrapped lines joined."""
    notes: dict[str, str] = {}
    for line in below.splitlines():
        m = re.match(r"^\s*(\[\d+\]) (.*)$", line)
        if m:
            ref = m[1]
            notes[ref] = m[2].strip()
        elif line.strip():
            notes[ref] += " " + line.strip()
    return notes


def test_findings_fits_80_columns_with_every_note_whole_and_marks_stale_values(snapshot_db):
    r = runner.invoke(app, ["--db", str(snapshot_db), "findings", *CRASH], env=W80)
    assert r.exit_code == 0, r.output
    lines = r.stdout.splitlines()
    assert max(len(l) for l in lines) <= 80
    header = next(l for l in lines if l.strip().startswith("id"))
    assert header.split()[:4] == ["id", "subject", "value", "window"] and header.split()[4].startswith("no")
    body = json.loads(runner.invoke(app, ["--db", str(snapshot_db), "findings", *CRASH, "--json"]).stdout)
    # one line per finding, in the JSON's order, its id whole (ids are never split)
    table, below = r.stdout.split("\nnotes:")
    tl = table.splitlines()
    rows = [l for l in tl[next(i for i, l in enumerate(tl) if set(l.strip()) == {"─"}) + 1:] if l.strip()]
    assert [l.split()[0] for l in rows] == [f["id"] for f in body["findings"]]
    # the note column is too narrow at 80 columns: each row points to its note, written whole under the table
    notes = _footnotes(below)
    row_note = {}
    for line, f in zip(rows, body["findings"]):
        ref = re.search(r"(\[\d+\])\s*$", line)
        row_note[id(f)] = notes[ref[1]] if ref else ""
        if f["note"]:
            assert f["note"] in row_note[id(f)], (f["id"], f["note"], row_note[id(f)])
    assert sum(1 for f in body["findings"] if f["note"]) >= 10 and len(notes) == len(set(notes.values()))
    # values whose newest source row is over 3 days before as-of are marked: "@" after the value (its date,
    # "@MM-DD" this year, in full when the column has room) and "stale: newest data <date>" in the note
    stale = [f for f in body["findings"] if f["value"] is not None and f["sources"]
             and "2026-01-01" <= max(s["last"] or "" for s in f["sources"]) < "2026-02-03"]
    assert stale
    wide = runner.invoke(app, ["--db", str(snapshot_db), "findings", *CRASH], env={"COLUMNS": "250"}).stdout
    for f in stale[:5]:
        day = max(s["last"] for s in f["sources"])[:10]
        line = rows[body["findings"].index(f)]
        assert " @" in line and f"stale: newest data {day}" in row_note[id(f)], (f["id"], line)
        assert any(l.split()[:1] == [f["id"]] and f"@{day[5:]}" in l for l in wide.splitlines()), (f["id"], day)
    # on a wide terminal the notes stay in their column (wrapped there when long)
    assert "notes:" not in wide and all(f["note"][:60] in wide for f in body["findings"] if f["note"])


def test_no_as_of_answers_as_of_the_latest_data_and_says_so(snapshot_db):
    import duckdb
    with duckdb.connect(str(snapshot_db), read_only=True) as con:
        last = con.execute("select max(available_at) from candles").fetchone()[0]
    r = runner.invoke(app, ["--db", str(snapshot_db), "findings", "--ids", "price.last_usd", "--json"])
    assert r.exit_code == 0, r.output
    body = json.loads(r.stdout)
    assert body["as_of"] == last.strftime("%Y-%m-%dT%H:%M:%SZ") and body["as_of_basis"] == "latest data"
    assert f"as of the latest data: {last:%Y-%m-%dT%H:%M:%S}Z" in r.stderr


@pytest.mark.parametrize("args, words", [
    (["--ids", "liquidations.totl_usd"], "did you mean liquidations.total_usd"),
    (["--param", "minerz.pue=1.2"], "unknown parameter area 'minerz' (did you mean miners?)"),
    (["--param", "miners.pu=1.2"], "unknown parameter miners.pu (did you mean pue?)"),
    (["--subject", "Stratgy"], "did you mean Strategy"),
    (["--columns", "id,vlaue"], "did you mean value"),
])
def test_typos_exit_2_with_the_nearest_names(snapshot_db, args, words):
    r = runner.invoke(app, ["--db", str(snapshot_db), "findings", *CRASH, *args], env={"COLUMNS": "200"})
    assert r.exit_code == 2, r.output
    assert words in re.sub(r"\s+", " ", r.stderr)


def test_quarantine_prints_reasons_as_is_and_json_with_z(snapshot_db):
    r = runner.invoke(app, ["--db", str(snapshot_db), "quarantine"], env={"COLUMNS": "300"})
    assert r.exit_code == 0 and "close outside [low, high] = [" in r.stdout
    rows = json.loads(runner.invoke(app, ["--db", str(snapshot_db), "quarantine", "--json"]).stdout)
    assert rows and all(re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z", x["ingested_at"]) for x in rows)
    raw = runner.invoke(app, ["--db", str(snapshot_db), "quarantine", "--json"]).stdout
    assert "\\/" not in raw and "snapshot/price/" in raw


def test_ids_and_params_list_the_catalogues(snapshot_db):
    from btcstress.metrics.miners import DEFAULTS
    r = runner.invoke(app, ["--db", str(snapshot_db), "ids", "--json"])
    assert r.exit_code == 0, r.output
    rows = {x["id"]: x for x in json.loads(r.stdout)}
    assert rows["price.low_24h_usd"]["unit"] == "USD" and "lowest low" in rows["price.low_24h_usd"]["definition"]
    assert rows["liquidations.total_usd"]["area"] == "leverage" and "scenario.cascade_price_usd" in rows
    # the catalogue is static: every id an area declares, including those not emitted on a given day,
    # listed without opening any store
    from btcstress import areas
    assert set(rows) == set(areas.catalogue()) and all(x["definition"] for x in rows.values())
    r = runner.invoke(app, ["--db", str(snapshot_db.parent / "no-such-store.duckdb"), "ids", "--json"])
    assert r.exit_code == 0 and {x["id"] for x in json.loads(r.stdout)} == set(rows)
    r = runner.invoke(app, ["params", "--json"])
    params = {(p["area"], p["name"]): p for p in json.loads(r.stdout)}
    assert params[("miners", "pue")]["default"] == DEFAULTS["pue"] and "CBECI" in params[("miners", "pue")]["source"]
