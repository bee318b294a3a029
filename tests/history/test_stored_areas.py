"""The miners and stress areas in finding_history (refreshed by the snapshot fixture's ingest): both on
the whole grid (day ends and, where the data is hourly, hours; stress hourly since session 4); a stored
answer equals the engine's computed rows."""

from __future__ import annotations

import datetime as dt

import pandas as pd

from btcstress import history
from btcstress.history import materialize, serve
from btcstress.history.calendar import instants

COLS = ["as_of", "id", "subject", "value", "value_text", "window", "zscore", "percentile"]


def _same_rows(a: pd.DataFrame, b: pd.DataFrame) -> None:
    a = a[COLS].sort_values(["as_of", "id", "subject", "window"]).reset_index(drop=True)
    b = b[COLS].sort_values(["as_of", "id", "subject", "window"]).reset_index(drop=True)
    pd.testing.assert_frame_equal(a, b, check_dtype=False, rtol=1e-12)


def test_miners_and_stress_are_stored_on_the_whole_grid(store):
    st = materialize.state(store).set_index("area")
    assert st.loc["miners", "grid"] == "daily+hourly" and st.loc["stress", "grid"] == "daily+hourly"
    t0, t1 = dt.datetime(2026, 2, 5, 12), dt.datetime(2026, 2, 6, 8)
    ids = ["miners.margin_pct", "miners.hashprice_usd_per_ph_day", "miners.production_cost_usd"]
    hourly = serve.answer(store, ids, t0, t1, "1h")
    assert hourly.how == {"miners": "stored (finding_history)"}
    assert len(hourly.rows) == 3 * 21  # 12:00 .. 08:00 the next day, every hour
    _same_rows(hourly.rows, history.compute(store, instants(t0, t1, "1h"), areas=("miners",))
               .rows.query("id in @ids"))
    # The margin moves with the hourly price; the modelled cost only with the day.
    m = hourly.rows[hourly.rows["id"] == "miners.margin_pct"]
    c = hourly.rows[hourly.rows["id"] == "miners.production_cost_usd"]
    assert m["value"].nunique() > 1 and c["value"].nunique() <= 2

    # day instants are D+1 07:00 (docs/DATA.md): 2026-01-20 07:00 .. 2026-02-06 07:00
    days = serve.answer(store, ["stress.index"], dt.datetime(2026, 1, 20), dt.datetime(2026, 2, 6, 7), "1d")
    assert days.how == {"stress": "stored (finding_history)"} and len(days.rows) == 18
    _same_rows(days.rows, history.compute(store, instants(dt.datetime(2026, 1, 20),
                                                                            dt.datetime(2026, 2, 6, 7)),
                                          areas=("stress",)).rows.query("id == 'stress.index'"))
    hours = serve.answer(store, ["stress.index"], t0, t1, "1h")
    assert hours.how == {"stress": "stored (finding_history)"} and len(hours.rows) == 21
    _same_rows(hours.rows, history.compute(store, instants(t0, t1, "1h"), areas=("stress",))
               .rows.query("id == 'stress.index'"))
