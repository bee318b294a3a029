"""Typed views of `Finding.detail` for the families other modules read.

A metric writes `detail` as a plain dict (it is what the JSON, the API and the store carry, unchanged);
a module that reads another area's detail reads it through one of these models instead of guessing
keys: `EtfDay.of(f).missing_funds`, `CostModel.of(f).sensitivity["base"].fleet_base_weighted`. The
models allow extra keys (a metric may say more than its readers need) and validate what they name,
so a renamed or retyped key fails loudly at the reader (pydantic ValidationError), not as a silent
`None`.

Families and their writers -> readers:
- `Dated`: any daily finding (`date` or `day`, a price bar's `bar_open`) -> the claim checker, the brief
- `Priced`: findings valued at the observed price (`price_from`, `price_usd`) -> claims, brief
- `EtfDay`, `EtfSpan`: metrics/etf.py (net flow and its vintages; streak / week to date) -> claims, brief
- `CostModel`: metrics/miners.py (cost per BTC by definition, the power-price sensitivity grid)
  -> claims, brief
- `EventsBelow`: metrics/price.py `price.below_event` -> claims, brief lint
- `Flagged`: any finding the quality checks marked (quality/mark.py, `suspect`) -> the brief's "Why it fell"
- `EtfCostBasis`: metrics/etf.py `etf.holders_cost_basis_usd` (net USD and BTC) -> the scenario area
- `Cited`: a cited finding (leverage, miners: `source`, who published it) -> claims
- `Drawdown`: metrics/price.py `price.drawdown_from_ath_pct` (`price`, the price it was computed at) -> brief
- `LiquidationsAt`, `Cascade`, `HashrateUnderwater`, `EntitiesUnderwater`, `Ladder`: metrics/scenario.py
  -> its ladder, `btcstress scenario`
- `StressIndex`, `Episode`, `ForwardReturns`: metrics/stress.py, stress/episodes.py -> `btcstress stress`,
  `btcstress episodes`
"""

from __future__ import annotations

from typing import TypeVar

from pydantic import BaseModel, ConfigDict, Field

from btcstress.findings import Finding

# int before float: a whole number stays an int (printed as written), smart-mode unions keep exact types.
Number = int | float
D = TypeVar("D", bound="Detail")


class Detail(BaseModel):
    """Base of the typed views: extra keys allowed, nothing coerced beyond the declared types."""

    model_config = ConfigDict(extra="allow", populate_by_name=True, frozen=True)

    @classmethod
    def of(cls: type[D], f: Finding) -> D:
        return cls.model_validate(f.detail or {})


class Dated(Detail):
    """The day a daily finding is about (`date` or `day`, YYYY-MM-DD) and, for an hourly price
    finding, the bar it was read from (`bar_open`, ISO minute)."""

    date: str | None = None
    day: str | None = None
    bar_open: str | None = None


class Priced(Detail):
    """A finding valued at a price: which finding the price came from and the price itself."""

    price_from: str | None = None
    price_usd: Number | None = None


class EtfVintage(Detail):
    """One published version of an ETF day's table."""

    vintage: str
    net_flow_usd: Number | None = None
    preliminary: bool = False
    missing_funds: list[str] = Field(default_factory=list)
    published_total_usd: Number | None = None


class EtfDay(Dated):
    """`etf.net_flow_usd`: the day, the vintage read, whether funds were missing, every vintage by T."""

    vintage: str | None = None
    preliminary: bool = False
    missing_funds: list[str] = Field(default_factory=list)
    vintages: list[EtfVintage] = Field(default_factory=list)


class EtfSpanDay(Detail):
    date: str
    net_flow_usd: Number | None = None
    preliminary: bool = False
    missing_funds: list[str] = Field(default_factory=list)


class EtfSpan(Detail):
    """`etf.outflow_streak_usd` / `etf.week_to_date_usd`: the days summed (from, to, each day's vintage)."""

    from_: str | None = Field(default=None, alias="from")
    to: str | None = None
    days: list[EtfSpanDay] = Field(default_factory=list)


class SensitivityPoint(Detail):
    """The all-in cost per BTC at one power price, for three fleet readings."""

    power_price_usd_kwh: Number | None = None
    fleet_low_most_efficient: Number | None = None
    fleet_base_weighted: Number | None = None
    fleet_high_least_efficient_running: Number | None = None


class CostModel(Dated):
    """The miners' cost model: the definition of cost, the power price, the sensitivity grid
    (`low` / `base` / `high` power price; only on `miners.production_cost_usd`)."""

    definition: str | None = None
    power_price_usd_kwh: Number | None = None
    sensitivity: dict[str, SensitivityPoint] = Field(default_factory=dict)


class PublishedCost(Detail):
    """`miners.published_cost_usd` (cited): who published it, when, under which definition."""

    publisher: str | None = None
    published: str | None = None
    known_from: str | None = None
    definition: str | None = None
    power_price_usd_kwh: Number | None = None


class Event(Detail):
    """A named event (src/btcstress/data/events.csv) and how the price has traded against its close."""

    id: str
    title: str = ""
    date: str = ""
    close: Number | None = None
    broke_below: str | None = None  # the day the price first closed below it after the event
    share_above_before: Number | None = None
    decisive_break: bool = False


class EventsBelow(Detail):
    """`price.below_event`: the named events whose close is above the price, the price compared."""

    events: list[Event] = Field(default_factory=list)
    price: Number | None = None
    events_with_a_close: int | None = None


class Flagged(Detail):
    """Any finding: `suspect` names the quality flag on a value it was computed from (quality/mark.py)."""

    suspect: str | None = None


class EtfCostBasis(Detail):
    """`etf.holders_cost_basis_usd`: the net USD and net BTC of the priced flow days since launch."""

    net_usd: Number | None = None
    net_btc: Number | None = None


class Cited(Detail):
    """A cited finding: who published the figure."""

    source: str | None = None


class Drawdown(Detail):
    """`price.drawdown_from_ath_pct`: the price it was computed at (observed or hypothetical)."""

    price: Number | None = None


class LiquidationsAt(Detail):
    """`scenario.liquidations_usd`: from the current price to the scenario price, on the open interest of a day."""

    current_usd: Number
    scenario_usd: Number
    open_interest_usd: Number | None = None
    open_interest_date: str | None = None


class Cascade(Detail):
    """`scenario.cascade_price_usd`: the market depth used and the liquidations including the cascade."""

    depth_usd_per_pct: Number | None = None
    liquidations_with_cascade_usd: Number | None = None


class HashrateUnderwater(Detail):
    """`scenario.hashrate_underwater_pct`: the share under water at each power price (`low`, `base`,
    `high`), on the all-in basis (the value) and the cash basis."""

    all_in_by_power_price_pct: dict[str, Number] = Field(default_factory=dict)
    cash_by_power_price_pct: dict[str, Number] = Field(default_factory=dict)


class UnderwaterEntity(Detail):
    """One treasury company under water at the scenario price."""

    entity: str
    pnl_usd: Number
    pnl_pct: Number


class Ladder(Detail):
    """`scenario.ladder`: the observed price the shocks start from."""

    current_usd: Number


class EtfHolders(Detail):
    """US spot ETF holders at the scenario price (inside `scenario.entities_underwater`)."""

    pnl_pct: Number | None = None


class EntitiesUnderwater(Detail):
    """`scenario.entities_underwater`: the treasury companies under water (names, deepest loss first),
    their summed P&L and the ETF holders' P&L at the scenario price."""

    names: list[str] = Field(default_factory=list)
    entities: list[UnderwaterEntity] = Field(default_factory=list)
    treasury_pnl_usd: Number | None = None
    etf_holders: EtfHolders | None = None


class StressIndex(Detail):
    """`stress.index`: how many forces it combines and each one's weighted contribution."""

    n_components: int = 0
    contributions: dict[str, Number] = Field(default_factory=dict)


class Horizon(Detail):
    """One forward return of an episode: its value once the horizon has ended by as-of, else None."""

    value: Number | None = None
    status: str


class EpisodeHeadline(Detail):
    """The episode day's own price move (`price.change_1d_pct` then)."""

    value: Number | None = None


class Episode(Detail):
    """`stress.episode`: its rank, stress index and distance to now, the day's move, the forward returns."""

    rank: int
    index: Number
    distance: Number
    headline: EpisodeHeadline | None = None
    forward: dict[str, Horizon]


class ForwardReturns(Detail):
    """`stress.episodes.forward_return_pct`: the range across the episodes whose horizon had ended."""

    min: Number
    max: Number


def day_of(f: Finding) -> str | None:
    """The YYYY-MM-DD a daily finding is about, from its detail (`date`, else `day`), or None."""
    d = Dated.of(f)
    return d.date or d.day


__all__ = ["Cascade", "Cited", "CostModel", "Dated", "Drawdown", "Detail", "EntitiesUnderwater", "Episode", "EpisodeHeadline", "EtfCostBasis", "EtfDay",
           "EtfHolders", "EtfSpan", "EtfSpanDay", "EtfVintage", "Event", "EventsBelow", "Flagged", "ForwardReturns",
           "HashrateUnderwater", "Horizon", "Ladder", "LiquidationsAt", "Number", "Priced", "PublishedCost", "SensitivityPoint", "StressIndex",
           "UnderwaterEntity", "day_of"]
