"""Miners findings as point-in-time series (the `history` of btcstress.metrics.miners).

Every miners input is a daily series (CryptoQuant network metrics, daily close, miner flows), so at
instant T the snapshot reads the latest day known by T (`known_max` over available_at) and the days
before it. Here:

- the data are read once, whole: the daily network frame (`miners._daily`, the same Ibis query the
  snapshot runs cut at T), the miner-flow pivot and, per day a finding can report, its trailing-year
  statistics (`_trailing`, one range self-join per series, only for the days some instant picks);
- the fleet model (pure) runs once per distinct generation set and parameter set over the whole
  frame (`miners.over_days`, the snapshot's own `_WHOLE` cut): the model at T is its first k days, k
  the days up to T's last network day; each (model, day) is priced once, each (model, day, price) once;
- each instant picks its day with `known_max`. That equals the snapshot when every row dated up to
  that day was published by T (the day is *settled*, the snapshot's own condition for cutting the
  whole run). At an instant where a row of such a day was published after T (a late revision), the
  area is evaluated as a snapshot instead (`fallback`), so the history is exact without assuming
  that data arrive in date order.

Values, windows, units, rounding, the statistics' floors (30 observations, half a year for the flows,
`stats.MIN_HISTORY`) are the snapshot's; the value functions (`miners.model_values`, `breakeven`,
`margin_base`, `costs.underwater_pct`) are shared with it.
"""

from __future__ import annotations

import datetime as dt

import ibis
import numpy as np
import pandas as pd

from btcstress import fleet
from btcstress.fleet import costs, data as fleet_data
from btcstress.history.context import known_max
from btcstress.metrics import miners as mn, miners_cited
from btcstress.metrics.miners_flows import CQ_PRICE
from btcstress.metrics.miners_history_flows import enforced, flow_rows, revenue_rows, round_py

CITED_NOTE = miners_cited.NOTE
# The snapshot's emission order (Cambridge's two measures interleave in the file's order).
ORDER = {fid: i for i, fid in enumerate(
    mn.MODEL_IDS + mn.PRICED_IDS + ("miners.revenue_usd_1d", "miners.hashprice_usd_per_ph_day", "miners.reserve_btc",
                                    "miners.reserve_change_30d_btc", "miners.outflow_btc_1d",
                                    "miners.to_exchange_btc_1d", "miners.hash_ribbon", "miners.puell_multiple",
                                    miners_cited.PUBLISHED_ID, "miners.cambridge_electricity_twh"))}
ORDER["miners.cambridge_fleet_j_per_th"] = ORDER["miners.cambridge_electricity_twh"]
UNITS = {"miners.electricity_cost_usd": "USD", "miners.cash_cost_usd": "USD", "miners.production_cost_usd": "USD",
         "miners.marginal_cost_usd": "USD", "miners.network_power_gw": "GW", "miners.fleet_j_per_th": "J/TH",
         "miners.margin_pct": "pct", "miners.breakeven_power_price_usd_kwh": "USD/kWh",
         "miners.hashrate_underwater_pct": "pct", "miners.hashrate_underwater_cash_pct": "pct"}


def rows(hctx) -> pd.DataFrame:
    over = hctx.params.get(mn.AREA, {})
    hctx.area_params(mn.AREA, mn.DEFAULTS)  # an unknown parameter is an error, as in the snapshot
    inst = _instants(hctx)
    inst["p"] = [_params(t, over) for t in inst["as_of"]]
    late = inst.loc[~inst["settled"], "as_of"]
    inst = inst[inst["settled"]].reset_index(drop=True)
    out = []
    if len(inst):
        daily = _daily_frames(hctx, inst["p"])
        out += [_model_rows(hctx, inst, daily), revenue_rows(hctx, inst), flow_rows(hctx, inst),
                _ribbon_puell_rows(inst, daily), _cited_rows(hctx, inst)]
    out = [o for o in out if len(o)]
    df = pd.concat(out, ignore_index=True) if out else pd.DataFrame(columns=["as_of", "id", "_o"])
    df["subject"] = df["subject"].where(df["subject"].notna(), "BTC") if "subject" in df else "BTC"
    df["_o"] = df["id"].map(ORDER) * 100_000 + df["_o"]
    df = df.sort_values(["as_of", "_o"], kind="stable", ignore_index=True).drop(columns="_o")
    if len(late):
        from btcstress.history.fallback import snapshot_rows
        snap = snapshot_rows(hctx.store, mn.AREA, list(late), params=hctx.params)
        df = pd.concat([df, snap], ignore_index=True).sort_values("as_of", kind="stable", ignore_index=True)
    return df  # history.compute conforms the columns


def _params(t: dt.datetime, over: dict) -> dict:
    """miners.params at T: the sources published by T's day, the indicators, the overrides."""
    p0, _ = fleet.params_as_of(pd.Timestamp(t).date())
    return {**p0, **mn.INDICATORS, **over}


def _key(p: dict) -> str:
    return repr(sorted(p.items()))


# -- which day each instant reads ---------------------------------------------------------------

def _cq(hctx) -> ibis.Table:
    c = hctx.table("candles")
    return c.filter((c.venue == CQ_PRICE[0]) & (c.symbol == CQ_PRICE[1]) & (c.interval == CQ_PRICE[2]))


def _instants(hctx) -> pd.DataFrame:
    """Per instant: its last network day L, last miner-flow day F, latest CryptoQuant candle, and
    whether every row dated up to L (network, close) and F (flows) was published by then."""
    net, fl, cq = hctx.table("network_daily"), hctx.table("miner_flows_daily"), _cq(hctx)
    cq = cq.mutate(date=cq.open_time.cast("date"))
    k = known_max(hctx.calendar, "as_of", net, "date", name="L")
    k = known_max(k, "as_of", fl, "date", name="F")
    k = known_max(k, "as_of", cq, "open_time", name="cq_t")
    df = k.order_by("as_of").execute()
    df["as_of"] = pd.to_datetime(df["as_of"]).astype("datetime64[us]")
    for c in ("L", "F", "cq_t"):
        df[c] = pd.to_datetime(df[c])
    s_net = pd.concat([_settled_by(net), _settled_by(cq)], axis=1).max(axis=1)  # close and network alike
    ok_net = _settled_at(s_net.sort_index().cummax(), df["L"], df["as_of"])
    ok_fl = _settled_at(_settled_by(fl).cummax(), df["F"], df["as_of"])
    df["settled"] = ok_net & ok_fl
    return df


def _settled_by(t: ibis.Table) -> pd.Series:
    """Latest available_at per date (index: date, ascending)."""
    g = t.group_by("date").aggregate(s=t.available_at.max()).order_by("date").execute()
    return pd.Series(pd.to_datetime(g["s"]).to_numpy(), index=pd.to_datetime(g["date"]))


def _settled_at(settled: pd.Series, day: pd.Series, t: pd.Series) -> pd.Series:
    """Whether every row dated up to `day` (running max of `settled`) was published by `t`."""
    s = settled.reindex(day.dropna().unique()).reindex(day)
    return pd.Series(day.isna().to_numpy() | (s.to_numpy() <= t.to_numpy()), index=t.index)


# -- the model ----------------------------------------------------------------------------------

def _daily_frames(hctx, ps: pd.Series) -> dict[str, pd.DataFrame]:
    """`miners._daily` over the whole tables, once per distinct set of the windows it reads."""
    out: dict[str, pd.DataFrame] = {}
    for p in ps:
        k = _frame_key(p)
        if k not in out:
            out[k] = mn._daily(hctx, p)
    return out


def _frame_key(p: dict) -> str:
    return repr([p[k] for k in ("smoothing_days", "ribbon_short_days", "ribbon_long_days", "puell_window_days")])


def _model_rows(hctx, inst: pd.DataFrame, daily: dict) -> pd.DataFrame:
    """The ten modelled findings per instant: the whole-frame model run once per (generations, params),
    cut at the instant's last network day; priced at price.last_usd (else the latest daily close)."""
    price = _prices(hctx, inst, daily)
    models: dict = {}
    per_day: dict = {}
    gens_on: dict = {}
    recs = []
    for t, L, p, px in zip(inst["as_of"], inst["L"], inst["p"], price):
        day = t.date()
        if day not in gens_on:
            gens_on[day] = fleet_data.generations(day)
        gens = gens_on[day]
        mk = (tuple(g.name for g in gens), _key(p))
        if mk not in models:
            m = mn.over_days(daily[_frame_key(p)], p, gens)
            models[mk] = (m, None if m is None else m.days["date"].to_numpy(dtype="datetime64[ns]"),
                          None if m is None else _margins(m.history))
        m, dates, margins = models[mk]
        k = 0 if m is None or pd.isna(L) else int(np.searchsorted(dates, np.datetime64(L, "ns"), side="right"))
        if k == 0:
            why = "not available: no network data (hashrate, block rewards) or no released ASIC generation known " \
                  "at this instant"
            recs += [(t, fid, np.nan, "", "", why, np.nan, np.nan, np.nan) for fid in mn.MODEL_IDS + mn.PRICED_IDS]
            continue
        if (mk, k) not in per_day:
            per_day[(mk, k)] = _day(m, k, p, margins)
        c, vals, base = per_day[(mk, k)]
        window = f"1d:{c.date}"
        recs += [(t, fid, v, UNITS[fid], window, None, np.nan, np.nan, np.nan) for fid, v in vals.items()]
        recs += _priced(t, c, p, px, base, window)
    df = pd.DataFrame(recs, columns=["as_of", "id", "value", "unit", "window", "note", "zscore", "percentile", "n"])
    df["kind"] = "modelled"
    return enforced(df.assign(_o=0))


def _day(m, k: int, p: dict, margins: tuple[np.ndarray, np.ndarray]):
    """The model on its k-th day: the cost curve, the modelled values, the margin base's statistics
    (`miners.margin_base` of the first k days, cut from the daily margins computed once)."""
    c = costs.curve(m.fleet, k - 1, p)
    pos, hm = margins
    j = int(np.searchsorted(pos, k))  # days with a close among the first k
    days = int(p["zscore_window_days"])
    tail = hm[max(0, j - days - 1):j]
    base = None
    if len(tail) > 30:
        prev = pd.Series(tail[:-1])
        base = (prev.mean(), prev.std(), np.sort(prev.to_numpy()), len(prev))
    return c, mn.model_values(c), base


def _margins(h: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Row positions of the days with a close, and their margin (close vs all-in cost), as
    `miners.margin_base` computes them (elementwise, so equal on any cut)."""
    ok = h["close"].notna().to_numpy()
    d = h[ok]
    return np.nonzero(ok)[0], ((d["close"] - d["all_in"]) / d["close"] * 100).to_numpy()


def _priced(t, c, p: dict, price: float, base, window: str) -> list[tuple]:
    if price is None or pd.isna(price):
        return [(t, fid, np.nan, "", "", "not available: no price known at this instant", np.nan, np.nan, np.nan)
                for fid in mn.PRICED_IDS]
    price = float(price)
    margin = (price - c.weighted(c.all_in())) / price * 100
    z = pct = n = np.nan
    if base is not None:
        mean, std, srt, n = base
        z = round(float((margin - mean) / std), 2)
        pct = round(float(int(np.searchsorted(srt, margin, side="right")) / n * 100), 1)
    pp = p["power_price_usd_kwh"]
    vals = (("miners.margin_pct", round(margin, 1), z, pct, n),
            ("miners.breakeven_power_price_usd_kwh", mn.breakeven(c, p, price), np.nan, np.nan, np.nan),
            ("miners.hashrate_underwater_pct", round(costs.underwater_pct(c, price, pp, "all_in"), 1),
             np.nan, np.nan, np.nan),
            ("miners.hashrate_underwater_cash_pct", round(costs.underwater_pct(c, price, pp, "cash"), 1),
             np.nan, np.nan, np.nan))
    return [(t, fid, v, UNITS[fid], window, None, zz, pc, nn) for fid, v, zz, pc, nn in vals]


def _prices(hctx, inst: pd.DataFrame, daily: dict) -> list[float | None]:
    """The price each instant is valued at: price.last_usd, else the latest CryptoQuant daily close
    published by then (`miners._price`), else None."""
    last = hctx.values("price.last_usd").rename(columns={"value": "px"})
    last["as_of"] = pd.to_datetime(last["as_of"]).astype("datetime64[us]")
    d = inst[["as_of", "cq_t"]].merge(last, on="as_of", how="left")
    cq = _cq(hctx).select("open_time", "close").execute()
    close = dict(zip(pd.to_datetime(cq["open_time"]), cq["close"].astype(float)))
    return [float(px) if pd.notna(px) else (close.get(ct) if pd.notna(ct) else None)
            for px, ct in zip(d["px"], d["cq_t"])]


# -- cycle indicators and cited figures ---------------------------------------------------------

def _at(a: np.ndarray, ii: np.ndarray) -> np.ndarray:
    """a[ii], or all None when the frame has no rows (then no index is valid and nothing is `found`)."""
    return a[ii] if len(a) else np.full(len(ii), None, dtype=object)


def _ribbon_puell_rows(inst: pd.DataFrame, daily: dict) -> pd.DataFrame:
    """The hash ribbon and the Puell multiple on the latest day up to L with their windows full."""
    out = []
    for fk, g in inst.groupby(inst["p"].map(_frame_key), sort=False):
        full = daily[fk]
        p = g["p"].iloc[0]
        r2, w = int(p["ribbon_long_days"]), int(p["puell_window_days"])
        dates = full["date"].to_numpy(dtype="datetime64[ns]")
        k = np.searchsorted(dates, g["L"].to_numpy(dtype="datetime64[ns]"), side="right")
        first = min((x.release for x in fleet_data.generations()), default=None)  # a generation released by T
        model = (g["as_of"].dt.normalize() >= pd.Timestamp(first)).to_numpy() if first else np.zeros(len(g), bool)
        model = model & g["L"].notna().to_numpy()
        model &= _has_model_days(full, p, g["L"])
        rib = full[["sma_short", "sma_long"]].notna().all(axis=1).to_numpy()
        state = np.where(full["sma_short"] < full["sma_long"], "capitulation", "no capitulation")
        pu = full["puell"].notna().to_numpy()
        for fid, valid, unit, text, val, win, short in (
                ("miners.hash_ribbon", rib, "state", state, None, r2, f"fewer than {r2} days of hashrate"),
                ("miners.puell_multiple", pu, "index", None, full["puell"].to_numpy(float), w,
                 f"fewer than {p['puell_window_days']} days of USD block rewards")):
            last = _last_valid(valid)  # per frame row: index of the latest valid row up to it, or -1
            # no network days at all (a store with prices only): nothing valid anywhere
            i = np.where(k > 0, last[np.maximum(k - 1, 0)], -1) if len(last) else np.full(len(k), -1)
            found = model & (i >= 0)
            ii = np.maximum(i, 0)
            what = "hashrate" if fid == "miners.hash_ribbon" else "block rewards"
            note = np.where(found, None, np.where(model, f"not available: {short}",
                                                  f"not available: no {what} known at this instant"))
            out.append(pd.DataFrame({
                "as_of": g["as_of"].to_numpy(), "id": fid, "unit": unit, "kind": "computed",
                "value": np.where(found, round_py(_at(val, ii), 3), np.nan) if val is not None else np.nan,
                "value_text": np.where(found, _at(text, ii), None) if text is not None else None,
                "window": np.where(found, [f"{win}d:{pd.Timestamp(x).date()}" if x is not None else ""
                                           for x in _at(dates, ii)], ""),
                "note": note, "_o": 0}))
    return pd.concat(out, ignore_index=True)


def _has_model_days(full: pd.DataFrame, p: dict, L: pd.Series) -> np.ndarray:
    """Whether the model has a day up to L (the snapshot's ribbon and Puell need the model)."""
    ok = full[(full["date"] >= pd.Timestamp(p["fleet_start"])) & full["h_th"].notna() & full["btc_per_day"].notna()]
    if ok.empty:
        return np.zeros(len(L), bool)
    first = ok["date"].iloc[0]
    return (L.notna() & (L >= first)).to_numpy()


def _last_valid(valid: np.ndarray) -> np.ndarray:
    idx = np.where(valid, np.arange(len(valid)), -1)
    return np.maximum.accumulate(idx) if len(idx) else idx


def _cited_rows(hctx, inst: pd.DataFrame) -> pd.DataFrame:
    """Published cost estimates (citations) and Cambridge's figures known by each instant."""
    t = hctx.table("citations")
    c = t.filter(t.finding_id == miners_cited.PUBLISHED_ID).order_by(["as_of", "subject"]).execute()
    recs = [(pd.Timestamp(r.available_at), i, r.subject, float(r.value), r.window if isinstance(r.window, str) else "",
             "USD", miners_cited.PUBLISHED_ID) for i, r in enumerate(c.itertuples())]
    ids = {"TWh": "miners.cambridge_electricity_twh", "J/TH": "miners.cambridge_fleet_j_per_th"}
    recs += [(pd.Timestamp(e.published + dt.timedelta(days=1)), 10_000 + i, e.period, e.value, f"1y:{e.period}",
              e.unit, ids[e.unit]) for i, e in enumerate(fleet_data.cambridge())]
    if not recs:
        return pd.DataFrame()
    cites = pd.DataFrame(recs, columns=["known", "_o", "subject", "value", "window", "unit", "id"])
    x = inst[["as_of"]].merge(cites, how="cross")
    x = x[x["known"] <= x["as_of"]]
    x = x.assign(cite=_cites(hctx, x))
    return x.drop(columns="known").assign(kind="cited", note=CITED_NOTE)


def _cites(hctx, x: pd.DataFrame) -> list:
    """Each cited row's citation as the snapshot gives it (`miners_cited`'s findings: publisher, date,
    definition, URL), for finding_history (`history.CITE`). A published estimate's classification reads the
    estimates known by then, so it is taken from the snapshot at each state of knowledge (the instants one
    more estimate became known: a handful); Cambridge's figures do not depend on the instant."""
    from btcstress.history import cite_of as body
    from btcstress.metrics.context import Context

    pub = (x["id"] == miners_cited.PUBLISHED_ID).to_numpy()
    states = np.array(sorted(set(x.loc[pub, "known"])), dtype="datetime64[us]")
    at = np.searchsorted(states, x["as_of"].to_numpy().astype("datetime64[us]"), side="right") - 1
    by_state = {}
    for i in sorted(set(at[pub])):
        ctx = Context(store=hctx.store, as_of=pd.Timestamp(states[i]).to_pydatetime())
        by_state[i] = {(f.subject, f.window): body(f) for f in miners_cited.published_findings(ctx)}
    late = Context(store=hctx.store, as_of=dt.datetime(9999, 1, 1))
    cam = {(f.id, f.subject, f.window): body(f) for f in miners_cited.cambridge_findings(late)}
    return [by_state[a].get((sj, w)) if p else cam.get((i, sj, w))
            for p, a, i, sj, w in zip(pub, at, x["id"], x["subject"], x["window"])]
