"""The stress index's inputs: one daily pressure series per measure, as Ibis expressions.

Each measure is a table (date, value, available_at, valid_until, origin) over the WHOLE store (not
cut at an instant): the index engine (`stress/index.py`) cuts it at each instant itself, with
`available_at <= T` and, for revised data (ETF vintages), `valid_until > T` (the next vintage of the
same day). A value built from several stored rows is published when its last part is
(`available_at` = the latest of its parts), so a measure never uses a row before it was public.

`sign` turns the measure into *pressure on the price*: +1 when a higher value means more selling
(miners sending coins to exchanges, long liquidations), -1 when a lower value does (the day's return,
ETF net flows). See docs/METRICS.md#stress for why each measure is there.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import ibis

# The forces, in the order the brief and the CLI print them.
FORCES = ("price", "market", "miners", "etf", "leverage", "treasuries")

FORCE_NAMES = {"price": "Price move", "market": "Market-wide selling", "miners": "Miners' selling and margin",
               "etf": "ETF flows", "leverage": "Leverage and liquidations", "treasuries": "Corporate treasuries"}


@dataclass(frozen=True)
class Measure:
    name: str  # "price.return_1d_pct"
    force: str
    sign: int  # +1: higher = more pressure; -1: lower = more pressure
    unit: str
    table: str  # the store table it is read from (provenance)
    method: str  # the formula in words
    stale_days: int  # the value at T is the latest day within this many days of T's date, else missing
    build: Callable[[object], ibis.Table]  # store -> (date, value, available_at, valid_until, origin)


def _daily(t: ibis.Table, value, date=None) -> ibis.Table:
    return t.select(date=date if date is not None else t.date, value=value, available_at=t.available_at,
                    valid_until=ibis.null("timestamp"), origin=t.origin)


def _price(store) -> ibis.Table:
    """The composite's daily close-to-close return in percent, as `price.change_1d_pct` computes it. A
    return whose close (or previous close) the quality rules flag as suspect is used only until the flag
    is known (`valid_until` = the flag's available_at): from then on it is neither today's move nor history."""
    c = store.table("candles")
    c = c.filter((c.venue == "cryptoquant") & (c.symbol == "BTC-USD") & (c.interval == "1d"))
    q = store.table("quality")
    q = q.filter((q.series == "candles:cryptoquant/BTC-USD/1d") & (q.field == "close"))
    flags = q.group_by(fts=q.ts).aggregate(flagged=q.available_at.min())
    c = c.left_join(flags, c.open_time == flags.fts)
    w = ibis.window(order_by=c.open_time)
    c = c.mutate(prev_close=c.close.lag().over(w), prev_available=c.available_at.lag().over(w),
                 prev_flagged=c.flagged.lag().over(w))
    c = c.filter(c.prev_close.notnull())
    return c.select(date=c.open_time.date(), value=(c.close / c.prev_close - 1) * 100,
                    available_at=ibis.greatest(c.available_at, c.prev_available),
                    valid_until=ibis.least(c.flagged, c.prev_flagged).cast("timestamp"), origin=c.origin)


def _market(store) -> ibis.Table:
    """The day's change of the total crypto market cap, in percent of the previous day's."""
    m = store.table("market_cap_daily")
    m = m.filter(m.scope == "total")
    p = m.select(pdate=m.date, prev=m.cap_usd, pavail=m.available_at)
    j = m.join(p, m.date == p.pdate + ibis.interval(days=1))
    return j.select(date=j.date, value=(j.cap_usd / j.prev - 1) * 100,
                    available_at=ibis.greatest(j.available_at, j.pavail), valid_until=ibis.null("timestamp"),
                    origin=j.origin)


def _miner_flow(metric: str) -> Callable[[object], ibis.Table]:
    def build(store) -> ibis.Table:
        f = store.table("miner_flows_daily")
        f = f.filter((f.metric == metric) & (f.value > 0))
        return _daily(f, f.value.ln())
    return build


def _hashprice(store) -> ibis.Table:
    """Miners' revenue per TH/s per day in USD (block rewards incl. fees / hashrate), log."""
    n = store.table("network_daily")
    r = n.filter(n.metric == "block_rewards_usd").select("date", rew=n.value, ravail=n.available_at,
                                                         origin=n.origin)
    h = n.filter(n.metric == "hashrate_hs").select(hdate=n.date, hs=n.value, havail=n.available_at)
    j = r.join(h, r.date == h.hdate)
    j = j.filter((j.rew > 0) & (j.hs > 0))
    return j.select(date=j.date, value=(j.rew / (j.hs / 1e12)).ln(), available_at=ibis.greatest(j.ravail, j.havail),
                    valid_until=ibis.null("timestamp"), origin=j.origin)


def _etf(store) -> ibis.Table:
    """Σ per-fund net flows of each (day, vintage); a vintage is valid until the day's next one."""
    f = store.table("etf_flows")
    g = f.group_by(["date", "vintage"]).aggregate(value=f.net_flow_usd.sum(), available_at=f.available_at.max(),
                                                  origin=f.origin.max())
    w = ibis.window(group_by=g.date, order_by=g.available_at)
    g = g.mutate(valid_until=g.available_at.lead().over(w))
    return g.select("date", "value", "available_at", "valid_until", "origin")


def _long_liquidations(store) -> ibis.Table:
    """log of BTC + ETH long liquidations in USD (forced selling), on days both assets are published."""
    t = store.table("liquidations_daily")
    t = t.filter(t.long_usd.notnull() & t.asset.isin(["BTC", "ETH"]))
    per = t.group_by(["date", "asset"]).aggregate(v=t.long_usd.max(), a=t.available_at.max(), o=t.origin.min())
    g = per.group_by("date").aggregate(v=per.v.sum(), n=per.count(), available_at=per.a.max(), origin=per.o.min())
    g = g.filter((g.n == 2) & (g.v > 0))
    return _daily(g, g.v.ln())


def _open_interest(store) -> ibis.Table:
    """BTC open interest's one-day change in percent (negative: deleveraging)."""
    d = store.table("derivatives_daily")
    d = d.filter((d.asset == "BTC") & d.open_interest_usd.notnull() & (d.open_interest_usd > 0))
    p = d.select(pdate=d.date, prev=d.open_interest_usd, pavail=d.available_at)
    j = d.join(p, d.date == p.pdate + ibis.interval(days=1))
    return j.select(date=j.date, value=(j.open_interest_usd / j.prev - 1) * 100,
                    available_at=ibis.greatest(j.available_at, j.pavail), valid_until=ibis.null("timestamp"),
                    origin=j.origin)


def _mnav(store) -> ibis.Table:
    """Strategy's mNAV (Artemis fd_ev_nav) one-day change in percent: a shrinking premium is a weaker bid."""
    v = store.table("treasury_valuation_daily")
    v = v.filter((v.entity == "Strategy") & (v.measure == "fd_ev_nav") & (v.value > 0))
    p = v.select(pdate=v.date, prev=v.value, pavail=v.available_at)
    j = v.join(p, v.date == p.pdate + ibis.interval(days=1))
    return j.select(date=j.date, value=(j.value / j.prev - 1) * 100,
                    available_at=ibis.greatest(j.available_at, j.pavail), valid_until=ibis.null("timestamp"),
                    origin=j.origin)


MEASURES: tuple[Measure, ...] = (
    Measure("price.return_1d_pct", "price", -1, "pct", "candles",
            "composite (CryptoQuant BTC-USD 1d) close / previous close - 1, in %", 3, _price),
    Measure("market.total_cap_change_pct", "market", -1, "pct", "market_cap_daily",
            "total crypto market cap (derived) / the previous day's - 1, in %", 3, _market),
    Measure("miners.to_exchange_btc_log", "miners", 1, "ln BTC", "miner_flows_daily",
            "ln of BTC sent by miners to exchanges that day (CryptoQuant)", 3, _miner_flow("to_exchange_btc")),
    Measure("miners.outflow_btc_log", "miners", 1, "ln BTC", "miner_flows_daily",
            "ln of BTC leaving miner wallets that day (CryptoQuant)", 3, _miner_flow("outflow_btc")),
    Measure("miners.hashprice_log", "miners", -1, "ln USD/TH/day", "network_daily",
            "ln of block rewards in USD (subsidy + fees) / hashrate in TH/s: revenue per unit of hashrate, "
            "the revenue side of miners' margin", 3, _hashprice),
    Measure("etf.net_flow_usd", "etf", -1, "USD", "etf_flows",
            "Σ per-fund net flows of the latest US trading day, its latest vintage published by T", 5, _etf),
    Measure("leverage.long_liquidations_log", "leverage", 1, "ln USD", "liquidations_daily",
            "ln of BTC + ETH long liquidations in USD (CryptoQuant), forced selling", 3, _long_liquidations),
    Measure("leverage.open_interest_change_pct", "leverage", -1, "pct", "derivatives_daily",
            "BTC open interest / the previous day's - 1, in % (deleveraging)", 3, _open_interest),
    Measure("treasuries.mnav_change_pct", "treasuries", -1, "pct", "treasury_valuation_daily",
            "Strategy's mNAV (Artemis fd_ev_nav) / the previous day's - 1, in %", 3, _mnav),
)
