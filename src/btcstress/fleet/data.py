"""The sourced fleet shipped with the package: ASIC generations, ASIC prices per TH, Cambridge estimates.

Three CSV files in src/btcstress/data/, every row with its public source URL:

- asic_fleet.csv: one row per machine model (manufacturer spec or launch announcement). A model belongs
  to a generation; the model uses the generation's efficiency, the plain mean of its models' J/TH (the
  split of sales between models of one generation is not published, so no weights are invented).
  A row without a release date is listed but not used (`unused`).
- asic_prices.csv: dated USD-per-TH observations per generation (launch prices, purchase orders,
  Hashrate Index's ASIC Price Index bands as reported). Used causally: a machine bought on day D is
  priced at the latest observation on or before D (`price_at`); before the first one its price is
  not sourced and its depreciation is left out (and counted as such).
- cambridge_estimates.csv: Cambridge's published network electricity and efficiency figures, shown as
  cited findings beside the model, never used as inputs.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources

FLEET_FILE = "data/asic_fleet.csv"
PRICES_FILE = "data/asic_prices.csv"
CAMBRIDGE_FILE = "data/cambridge_estimates.csv"
FILES = (FLEET_FILE, PRICES_FILE, CAMBRIDGE_FILE)


@dataclass(frozen=True)
class Machine:
    generation: str
    model: str
    manufacturer: str
    release: dt.date | None
    release_basis: str
    th_s: float | None
    watts: float | None
    j_per_th: float
    source_url: str
    note: str


@dataclass(frozen=True)
class Generation:
    """An ASIC generation: released on the earliest release of its models, efficiency the mean of theirs."""

    name: str
    release: dt.date
    j_per_th: float
    models: tuple[Machine, ...] = field(repr=False)

    @property
    def sources(self) -> list[str]:
        return sorted({m.source_url for m in self.models})


@dataclass(frozen=True)
class PriceObservation:
    generation: str
    date: dt.date
    usd_per_th: float
    what: str
    source_url: str


@dataclass(frozen=True)
class CambridgeEstimate:
    id: str
    period: str
    value: float
    unit: str
    published: dt.date
    publisher: str
    what: str
    source_url: str


def _rows(name: str) -> list[dict[str, str]]:
    text = resources.files("btcstress").joinpath(name).read_text(encoding="utf-8")
    return list(csv.DictReader(io.StringIO(text)))


def _num(v: str) -> float | None:
    return float(v) if v and v.strip() else None


def _date(v: str) -> dt.date | None:
    return dt.date.fromisoformat(v.strip()) if v and v.strip() else None


@lru_cache(maxsize=1)
def machines() -> tuple[Machine, ...]:
    out = []
    for r in _rows(FLEET_FILE):
        out.append(Machine(generation=r["generation"], model=r["model"], manufacturer=r["manufacturer"],
                           release=_date(r["release"]), release_basis=r["release_basis"], th_s=_num(r["th_s"]),
                           watts=_num(r["watts"]), j_per_th=float(r["j_per_th"]), source_url=r["source_url"],
                           note=r["note"]))
    return tuple(out)


def generations(as_of: dt.date | None = None) -> list[Generation]:
    """Generations with a sourced release date (released on or before `as_of` when given), oldest first."""
    by: dict[str, list[Machine]] = {}
    for m in machines():
        if m.release is not None:
            by.setdefault(m.generation, []).append(m)
    gens = [Generation(name=g, release=min(m.release for m in ms), j_per_th=sum(m.j_per_th for m in ms) / len(ms),
                       models=tuple(ms)) for g, ms in by.items()]
    gens = [g for g in gens if as_of is None or g.release <= as_of]
    return sorted(gens, key=lambda g: g.release)


def unused() -> list[Machine]:
    """Models listed in the file but not used (no sourced release date)."""
    return [m for m in machines() if m.release is None]


@lru_cache(maxsize=1)
def prices() -> tuple[PriceObservation, ...]:
    return tuple(PriceObservation(generation=r["generation"], date=dt.date.fromisoformat(r["date"]),
                                  usd_per_th=float(r["usd_per_th"]), what=r["what"], source_url=r["source_url"])
                 for r in _rows(PRICES_FILE))


def price_points(generation: str) -> list[tuple[dt.date, float]]:
    """(date, USD/TH) for a generation, oldest first; observations on the same day are averaged."""
    by: dict[dt.date, list[float]] = {}
    for p in prices():
        if p.generation == generation:
            by.setdefault(p.date, []).append(p.usd_per_th)
    return [(d, sum(v) / len(v)) for d, v in sorted(by.items())]


def price_at(points: list[tuple[dt.date, float]], day: dt.date) -> float | None:
    """The latest observed price on or before `day` (None before the first observation): causal."""
    out = None
    for d, v in points:
        if d > day:
            break
        out = v
    return out


@lru_cache(maxsize=1)
def cambridge() -> tuple[CambridgeEstimate, ...]:
    return tuple(CambridgeEstimate(id=r["id"], period=r["period"], value=float(r["value"]), unit=r["unit"],
                                   published=dt.date.fromisoformat(r["published"]), publisher=r["publisher"],
                                   what=r["what"], source_url=r["source_url"]) for r in _rows(CAMBRIDGE_FILE))
