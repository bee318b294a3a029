"""Treasury findings as point-in-time series (the `history` of btcstress.metrics.treasuries).

Which report an entity's findings use changes only when a holdings row is published (an 8-K from
its filing, an Artemis day from D+1 18:00Z, a snapshot from when it was taken), and its mNAV only
when a valuation row is. So, as for ETF flows, the positions are chosen per *event* (each
publication instant that is the latest one by some instant of the calendar) with the snapshot's own
ranking (`treasuries.latest_per_entity`), and every instant takes its latest event's positions
(`known_max`). Values, P&L and totals are then per instant at that instant's `price.last_usd`.

The P&L z-score compares the P&L % at T with the entity's daily P&L % over the trailing year: each
day's close against the average cost of the latest report published by that close — a property of
the day — so one range join of the instants with those days (open_time >= T - 365 d, close
published by T) gives every instant's statistics.
"""

from __future__ import annotations

import datetime as dt

import ibis
import numpy as np
import pandas as pd

from btcstress.history import conform, empty
from btcstress.history.context import known_max, one_per
from btcstress.metrics.stats import MIN_HISTORY
from btcstress.metrics.treasuries import AREA, DEFAULTS, HOLDINGS_ONLY_NOTE, TOTAL_SUBJECT, _source_label, report_order
from btcstress.metrics.treasuries_mnav import NEGATIVE_MNAV, valuation_order

COST_IDS = (("treasury.avg_cost_usd", "USD"), ("treasury.cost_usd", "USD"), ("treasury.breakeven_price_usd", "USD"),
            ("treasury.unrealized_pnl_usd", "USD"), ("treasury.unrealized_pnl_pct", "pct"))


def rows(hctx) -> pd.DataFrame:
    p = hctx.area_params(AREA, DEFAULTS)
    cal = hctx.calendar
    pos = _positions(hctx, cal)
    price = hctx.values("price.last_usd").rename(columns={"value": "price"})
    inst = pos.merge(price, on="as_of", how="left")
    every = pd.Series(pd.to_datetime(pd.Series(hctx.instants, dtype="object"))).astype("datetime64[us]")
    none = every[~every.isin(pd.to_datetime(inst["as_of"]))]
    out = [_totals_none(none, "no treasury holdings published by as-of")]
    if len(inst):
        inst = _valued(inst)
        inst = inst.merge(_pnl_unusual(hctx, p, inst), on=["as_of", "entity"], how="left")
        out += [_entity_rows(inst), _mnav(hctx, p, cal, inst[["as_of", "entity"]]), _totals(inst)]
    out = [o for o in out if len(o)]
    return conform(pd.concat(out, ignore_index=True)) if out else empty()


def _latest_event(cal: ibis.Table, t: ibis.Table) -> pd.DataFrame:
    """Per instant: the latest publication instant of `t` by then (NaT before the first)."""
    ev = t.select(E=t.available_at).distinct()
    k = known_max(cal, "as_of", ev, "E", data_time="E", name="E_at")
    df = k.select("as_of", E=k.E_at).order_by("as_of").execute()
    df["E"] = pd.to_datetime(df["E"]).astype("datetime64[us]")
    return df


def _events(es: pd.Series) -> ibis.Table:
    e = es.dropna().drop_duplicates()
    return ibis.memtable(pd.DataFrame({"E": pd.to_datetime(e).astype("datetime64[us]")}),
                         schema=ibis.schema({"E": "timestamp"}))


def _best(left: ibis.Table, time: str, data: ibis.Table, order: list, rename: dict | None = None) -> ibis.Table:
    """Per row of `left` (columns `time`, entity): the entity's best row of `data` published by then,
    "best" being first in `order` (a total order). Ranking every row once by `order` makes it a
    running max of that rank over publication (`known_max`), so no instant ranks the rows again."""
    w = ibis.window(group_by=data.entity, order_by=order)
    ranked = data.mutate(_k=ibis.row_number().over(w) * -1)  # the best row has the largest _k (0)
    ranked = ranked.rename(**(rename or {}))
    k = known_max(left, time, ranked, "_k", by=("entity",), name="_best")
    k = k.filter(k._best.notnull())
    r = ranked.rename(_rentity="entity")
    return k.join(r, [k.entity == r._rentity, k._best == r._k]).drop("_rentity", "_best", "_k")


def _positions(hctx, cal: ibis.Table) -> pd.DataFrame:
    """Per instant and entity: the row the snapshot's `positions` chooses (`report_order`), with the
    newest holdings-only figure beside it. Chosen once per publication event, then per instant."""
    h = hctx.table("treasury_holdings")
    at = _latest_event(cal, h)
    key = ["E", "entity"]
    if at["E"].isna().all():
        return pd.DataFrame(columns=["as_of", *key[1:], "has_cost"])
    left = _events(at["E"]).cross_join(h.select("entity").distinct())
    cols = ["E", "entity", "btc", "cost_usd", "avg_cost_usd", "basis", "origin", "report_as_of"]
    wc = _pick(left, h.filter(h.cost_usd.notnull()))
    wc = wc.mutate(avg_cost_usd=wc.avg_cost_usd.fill_null(wc.cost_usd / wc.btc)).select(*cols).execute()
    only = _pick(left, h.filter(h.cost_usd.isnull())).select(*cols).execute()
    wc["has_cost"] = True
    fb = only.merge(wc[key], on=key, how="left", indicator=True)
    fb = fb[fb["_merge"] == "left_only"].drop(columns="_merge").assign(has_cost=False)
    chosen = pd.concat([wc, fb], ignore_index=True)
    side = only.rename(columns={"btc": "daily_series_btc", "report_as_of": "daily_series_as_of",
                                "origin": "daily_series_origin"})[key + ["daily_series_btc", "daily_series_as_of",
                                                                         "daily_series_origin"]]
    chosen = chosen.merge(side, on=key, how="left")
    chosen["E"] = pd.to_datetime(chosen["E"]).astype("datetime64[us]")
    return at.merge(chosen, on="E").drop(columns="E")


def _pick(left: ibis.Table, rows: ibis.Table) -> ibis.Table:
    """The snapshot's `latest_per_entity` of `rows` at every instant of `left` (as_of: the report's
    day renamed report_as_of)."""
    return _best(left, "E", rows, report_order(rows), rename={"report_as_of": "as_of"})


def _valued(d: pd.DataFrame) -> pd.DataFrame:
    """The snapshot's price-dependent columns (`treasuries._valued`), per instant and entity."""
    px = d["price"].astype("float64")
    avg = d["avg_cost_usd"].astype("float64").where(d["has_cost"].astype(bool))
    btc = d["btc"].astype("float64")
    pnl = btc * (px - avg)
    return d.assign(value_usd=btc * px, unrealized_pnl_usd=pnl, unrealized_pnl_pct=pnl / (btc * avg) * 100.0)


def _pnl_unusual(hctx, p: dict, inst: pd.DataFrame) -> pd.DataFrame:
    """z-score and percentile of each instant's P&L % against the entity's daily P&L % over the
    trailing `unusual_history_days` (closes published by the instant), one range join."""
    q = inst[inst["has_cost"].astype(bool) & inst["unrealized_pnl_pct"].notna()]
    cols = {"as_of": pd.Series(dtype="datetime64[us]"), "entity": pd.Series(dtype=object),
            "zscore": pd.Series(dtype="float64"), "percentile": pd.Series(dtype="float64"),
            "pnl_short": pd.Series(dtype=object)}
    if q.empty:
        return pd.DataFrame(cols)
    venue, symbol, interval = p["chart_price"].split(":")
    c = hctx.table("candles")
    c = c.filter((c.venue == venue) & (c.symbol == symbol) & (c.interval == interval))
    c = c.select(day=c.open_time, close=c.close, known_at=c.available_at)
    h = hctx.table("treasury_holdings")
    h = h.filter(h.cost_usd.notnull())
    h = h.select(hentity=h.entity, avg_cost=h.avg_cost_usd.fill_null(h.cost_usd / h.btc), published=h.available_at,
                 report_as_of=h.as_of, cost_origin=h.origin)
    j = c.join(h, c.known_at >= h.published)
    j = one_per(j, ["hentity", "day"], [ibis.desc(j.published), ibis.desc(j.report_as_of), j.cost_origin])
    j = j.filter(j.avg_cost.notnull())
    daily = j.select(dentity=j.hentity, day=j.day, known_at=j.known_at, pct=(j.close / j.avg_cost - 1.0) * 100.0)
    qt = ibis.memtable(pd.DataFrame({"as_of": q["as_of"].astype("datetime64[us]"), "entity": q["entity"].astype(str),
                                     "cur": q["unrealized_pnl_pct"].astype("float64")}))
    days = int(p["unusual_history_days"])
    r = qt.join(daily, [qt.entity == daily.dentity, daily.day >= qt.as_of - ibis.interval(days=days),
                        daily.known_at <= qt.as_of])
    s = r.group_by(["as_of", "entity", "cur"]).aggregate(
        n=r.count(), mean=r.pct.mean(), sd=r.pct.std(), at_or_below=(r.pct <= r.cur).cast("int64").sum()).execute()
    ok = (s["n"] >= 30) & (s["n"] >= MIN_HISTORY) & s["sd"].notna() & (s["sd"] != 0)
    s["zscore"] = [round((cur - m) / sd, 2) if o else None for o, cur, m, sd in zip(ok, s["cur"], s["mean"], s["sd"])]
    s["percentile"] = [round(float(b) / int(n) * 100.0, 1) if o else None for o, b, n in zip(ok, s["at_or_below"], s["n"])]
    # stats.enforce: the snapshot's statistic (30+ days, a spread) on fewer than MIN_HISTORY days is dropped, said so
    short = (s["n"] >= 30) & (s["n"] < MIN_HISTORY) & s["sd"].notna() & (s["sd"] != 0)
    s["pnl_short"] = [f"no z-score or percentile: {int(n)} observations of history (the minimum is {MIN_HISTORY})"
                      if x else None for x, n in zip(short, s["n"])]
    s["as_of"] = pd.to_datetime(s["as_of"]).astype("datetime64[us]")
    return s[["as_of", "entity", "zscore", "percentile", "pnl_short"]]


def _d(v) -> str:
    return pd.Timestamp(v).date().isoformat()


def _entity_rows(d: pd.DataFrame) -> pd.DataFrame:
    """holdings, cost, value and P&L per instant and entity (mNAV apart), as the snapshot words them."""
    d = d.reset_index(drop=True)
    cost = d["has_cost"].astype(bool)
    priced = d["price"].notna()
    label = d["origin"].map({o: _source_label(o) for o in d["origin"].unique()})
    window = "holdings as of " + pd.to_datetime(d["report_as_of"]).dt.strftime("%Y-%m-%d")
    ds, ds_at = d["daily_series_btc"].astype("float64"), pd.to_datetime(d["daily_series_as_of"])
    differs = cost & ds.notna() & ds_at.notna() & (ds_at > pd.to_datetime(d["report_as_of"])) \
        & ((ds - d["btc"].astype("float64")).abs() > 0.5)
    note = pd.Series([None] * len(d), dtype=object)
    note[~cost] = [HOLDINGS_ONLY_NOTE.format(origin=x) for x in label[~cost]]
    note[differs] = [f"differs from the {_source_label(o)}, which carries {x:,.0f} BTC on {_d(t)}; holdings and cost "
                     "are kept from the same report"
                     for o, x, t in zip(d.loc[differs, "daily_series_origin"], ds[differs], ds_at[differs])]
    no_cost = "not available: " + d["entity"].astype(str) + "'s cost basis is not published in the data (holdings " \
        "from " + label + " only); cost is never estimated"
    no_price = "not available: no BTC price at as-of (price.last_usd not available)"

    def part(mask, fid, unit, value=None, text=None, **extra):
        m = mask.to_numpy()
        return pd.DataFrame({"as_of": d["as_of"][m], "id": fid, "subject": d["entity"][m], "window": window[m],
                             "kind": "computed", "unit": unit,
                             "value": value[m].astype("float64") if value is not None else float("nan"),
                             "note": text[m] if isinstance(text, pd.Series) else text,
                             **{k: v[m] for k, v in extra.items()}})

    out = [part(cost | ~cost, "treasury.holdings_btc", "BTC", d["btc"], note),
           part(cost, "treasury.avg_cost_usd", "USD", d["avg_cost_usd"]),
           part(cost, "treasury.cost_usd", "USD", d["cost_usd"]),
           part(cost, "treasury.breakeven_price_usd", "USD", d["avg_cost_usd"])]
    out += [part(~cost, fid, unit, text=no_cost) for fid, unit in COST_IDS]
    out += [part(~priced, "treasury.value_usd", "USD", text=no_price)]
    out += [part(cost & ~priced, fid, unit, text=no_price) for fid, unit in COST_IDS[3:]]
    out += [part(priced, "treasury.value_usd", "USD", d["value_usd"]),
            part(cost & priced, "treasury.unrealized_pnl_usd", "USD", d["unrealized_pnl_usd"]),
            part(cost & priced, "treasury.unrealized_pnl_pct", "pct", d["unrealized_pnl_pct"],
                 d["pnl_short"].astype(object).where(d["pnl_short"].notna(), None),
                 zscore=d["zscore"].astype("float64"), percentile=d["percentile"].astype("float64"))]
    return pd.concat([o for o in out if len(o)], ignore_index=True)


def _totals_none(as_of: pd.Series, reason: str) -> pd.DataFrame:
    if as_of.empty:
        return empty()
    return pd.concat([pd.DataFrame({"as_of": as_of.to_numpy(), "id": fid, "subject": TOTAL_SUBJECT, "unit": unit,
                                    "window": "", "kind": "computed", "note": f"not available: {reason}"})
                      for fid, unit in (("treasury.total_holdings_btc", "BTC"),
                                        ("treasury.total_unrealized_pnl_usd", "USD"))], ignore_index=True)


def _totals(d: pd.DataFrame) -> pd.DataFrame:
    """Sums over the entities with a known cost, per instant."""
    k = d[d["has_cost"].astype(bool)]
    g = k.groupby("as_of").agg(btc=("btc", "sum"), pnl=("unrealized_pnl_usd", "sum"), price=("price", "first"))
    without = d.loc[~d["as_of"].isin(g.index), "as_of"].drop_duplicates()
    base = {"subject": TOTAL_SUBJECT, "kind": "computed", "window": "latest report per entity"}
    has_px = g["price"].notna()
    out = [_totals_none(without, "no entity's cost basis is published by as-of"),
           pd.DataFrame({"as_of": g.index, "id": "treasury.total_holdings_btc", "unit": "BTC",
                         "value": g["btc"].to_numpy(), **base}),
           pd.DataFrame({"as_of": g.index, "id": "treasury.total_unrealized_pnl_usd", "unit": "USD", **base,
                         "value": g["pnl"].where(has_px).to_numpy(),
                         "window": np.where(has_px, base["window"], ""),
                         "note": np.where(has_px, None, "not available: no BTC price at as-of")})]
    return pd.concat([o for o in out if len(o)], ignore_index=True)


def _mnav(hctx, p: dict, cal: ibis.Table, ents: pd.DataFrame) -> pd.DataFrame:
    """Each entity's latest multiple of the chosen measure by the instant, with its trailing stats."""
    v = hctx.table("treasury_valuation_daily")
    v = v.filter(v.measure == p["mnav_measure"])
    at = _latest_event(cal, v)
    m = pd.DataFrame(columns=["E", "entity", "cur_date", "cur", "cur_origin", "n", "first", "zscore", "percentile"])
    if at["E"].notna().any():
        left = _events(at["E"]).cross_join(v.select("entity").distinct())
        cur = _best(left, "E", v, valuation_order(v))
        cur = cur.select(cE="E", centity="entity", cur_date="date", cur="value", cur_origin="origin")
        days = int(p["unusual_history_days"])
        j = cur.join(v, [v.entity == cur.centity, v.available_at <= cur.cE, v.date <= cur.cur_date,
                         v.date > cur.cur_date - ibis.interval(days=days)])
        st = j.group_by(["cE", "centity", "cur_date", "cur", "cur_origin"]).aggregate(
            n=j.count(), mean=j.value.mean(), sd=j.value.std(), at_or_below=(j.value <= j.cur).cast("int64").sum(),
            first=j.date.min())
        st = st.mutate(zscore=(st.cur - st.mean) / st.sd,
                       percentile=st.at_or_below.cast("float64") / st.n * 100.0)
        m = st.rename(E="cE", entity="centity").execute()
        m["E"] = pd.to_datetime(m["E"]).astype("datetime64[us]")
    d = ents.merge(at, on="as_of", how="left").merge(m, on=["E", "entity"], how="left")
    ok = d["cur"].notna()
    stat = ok & (d["n"] >= 30) & (d["n"] >= MIN_HISTORY) & d["zscore"].notna()
    short = ok & (d["n"] >= 30) & (d["n"] < MIN_HISTORY) & d["zscore"].notna()  # stats.enforce drops it, saying so
    reason = f"not available: no {p['mnav_measure']} published for " + d["entity"].astype(str) + " by as-of"
    note = pd.Series(np.where(ok, np.where(d["cur"].fillna(1.0) <= 0, NEGATIVE_MNAV, None), reason), dtype=object)
    why = "no z-score or percentile: " + d["n"].fillna(0).astype("int64").astype(str) + \
        f" observations of history (the minimum is {MIN_HISTORY})"
    note = note.where(~short, np.where(note.notna(), note.fillna("") + "; " + why, why))
    return pd.DataFrame({
        "as_of": d["as_of"], "id": "treasury.mnav", "subject": d["entity"], "unit": "ratio", "kind": "cited",
        "value": d["cur"].where(ok).astype("float64"),
        "window": ["1d:" + _d(x) if o else "" for o, x in zip(ok, d["cur_date"])],
        "zscore": [round(float(z), 2) if s else None for s, z in zip(stat, d["zscore"])],
        "percentile": [round(float(x), 1) if s else None for s, x in zip(stat, d["percentile"])],
        "note": note, "cite": _mnav_cites(p, d, ok, stat)})


def _mnav_cites(p: dict, d: pd.DataFrame, ok: pd.Series, stat: pd.Series) -> list:
    """Each available mNAV's citation as `treasuries_mnav.finding` gives it (method, params, sources, detail,
    the z-score's base), for finding_history (`history.CITE`)."""
    import json

    from btcstress.findings import iso
    from btcstress.metrics.treasuries_mnav import _measure_label
    measure = p["mnav_measure"]
    method = (f"{_measure_label(measure)} as published by the source (its share count, debt and cash are not in "
              "the store, so it is cited, not recomputed); observed, never re-valued at a hypothetical price")
    params = json.dumps(p, default=str)
    out = []
    for o, s, day, first, n, origin in zip(ok, stat, d["cur_date"], d["first"], d["n"], d["cur_origin"]):
        if not o:
            out.append(None)
            continue
        day, first = pd.Timestamp(day), pd.Timestamp(first)
        body = {"method": method, "params": "@params", "detail": {"date": _d(day), "measure": measure},
                "sources": [{"table": "treasury_valuation_daily", "origin": origin, "rows": int(n),
                             "first": iso(first.to_pydatetime()), "last": iso(day.to_pydatetime()),
                             "note": f"measure {measure}"}]}
        if s:
            body["unusual"] = {"history": f"{int(n)} daily values since {_d(first)}", "n": int(n)}
        out.append(json.dumps(body).replace('"@params"', params))
    return out
