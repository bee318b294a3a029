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


def day_of(f: Finding) -> str | None:
    """The YYYY-MM-DD a daily finding is about, from its detail (`date`, else `day`), or None."""
    d = Dated.of(f)
    return d.date or d.day


__all__ = ["CostModel", "Dated", "Detail", "EtfDay", "EtfSpan", "EtfSpanDay", "EtfVintage", "Event", "EventsBelow",
           "Number", "Priced", "PublishedCost", "SensitivityPoint", "day_of"]
