"""docs/examples/history.ipynb runs top to bottom on the snapshot store (its own asserts included)."""

from __future__ import annotations

from pathlib import Path

import nbformat
from nbclient import NotebookClient

NOTEBOOK = Path(__file__).resolve().parents[2] / "docs" / "examples" / "history.ipynb"


def test_the_example_notebook_runs(snapshot_db, monkeypatch, tmp_path):
    monkeypatch.setenv("BTCSTRESS_DB", str(snapshot_db))
    nb = nbformat.read(NOTEBOOK, as_version=4)
    NotebookClient(nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}).execute()
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])]
    assert not [o for o in outputs if o.get("output_type") == "error"]
    text = "".join(str(o.get("data", {}).get("text/plain", "")) + str(o.get("text", "")) for o in outputs)
    assert "'equal'" in text and "worse day(s) in the year before" in text
