"""`btcstress.open(path)`: the store from Python, answers as pandas DataFrames (docs/PYTHON.md).

    import btcstress
    bs = btcstress.open("data/btcstress.duckdb")          # read-only by default
    bs.findings("2026-02-06T08:00Z")                      # one row per finding
    bs.history("etf.net_flow_usd", start="2024-01-11", end="2026-02-06")   # indexed by as_of

Values are in a numeric `value` column (float; NaN when not available or not a number) and, for
dates, labels and lists, in `value_text`; `note` says why a value is not available.
"""

from __future__ import annotations

import datetime as dt
import os
from typing import Any

import pandas as pd

from btcstress import config as cfg
from btcstress.store import Store, default_db_path


def _instant(t: Any) -> dt.datetime:
    """A str ('2026-02-06T08:00Z'; a bare day means its end, as --date), a datetime or a Timestamp."""
    if isinstance(t, str):
        return cfg.parse_instant(t)
    ts = pd.Timestamp(t)
    ts = ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")
    return ts.to_pydatetime()


class Btcstress:
    """An open store. Use as a context manager or call close()."""

    def __init__(self, path: str | os.PathLike | None = None, *, read_only: bool = True,
                 params: dict[str, dict[str, Any]] | None = None):
        self.path = path if path is not None else default_db_path()
        self.store = Store(self.path, read_only=read_only)
        self.params = params or {}

    def close(self) -> None:
        self.store.close()

    def __enter__(self) -> "Btcstress":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"btcstress.open({str(self.path)!r}, read_only={self.store.read_only})"

    def findings(self, as_of: Any = None, *, price: float | None = None, derive: bool = False) -> pd.DataFrame:
        """Every finding as of an instant (default: now), one row each, with method and provenance
        columns beside the protocol's (id, subject, value, value_text, unit, window, ...). On the grid
        the materialised areas are read from finding_history when it is fresh (their `sources` say
        finding_history); `.attrs['how']` says per area which; `derive=True` computes every finding."""
        from btcstress.history import row_of, served
        t = _instant(as_of) if as_of is not None else dt.datetime.now(dt.timezone.utc)
        got = served.findings_at(self.store, t, params=self.params, price=price, derive=derive)
        fs = got.fs
        rows = []
        for f in fs:
            r = row_of(f, t)
            r.update(method=f.method, hypothetical=f.hypothetical,
                     sources="; ".join(f"{s.table}: {s.origin}" for s in f.sources))
            rows.append(r)
        df = pd.DataFrame(rows)
        df["as_of"] = pd.to_datetime(df["as_of"], utc=True)
        df.attrs["how"] = got.how
        return df

    def history(self, id: str | None, start: Any = None, end: Any = None, *, subject: str | None = None,
                every: str = "1d") -> pd.DataFrame:
        """A finding's value at each instant from start to end (default: the year to the data's end),
        indexed by as_of (UTC). `id=None` gives every finding. `.attrs['how']` says, per area, whether
        the rows were read from finding_history or computed."""
        from btcstress.history import serve
        from btcstress.history.calendar import data_range
        rng = data_range(self.store)
        t1 = _instant(end) if end is not None else rng[1] - dt.timedelta(days=2)
        t0 = _instant(start) if start is not None else t1 - dt.timedelta(days=365)
        ans = serve.answer(self.store, [id] if id else None, t0, t1, every, subject)
        df = serve.findings_frame(ans.rows)
        df.attrs["how"] = ans.how
        return df
