"""The US spot Bitcoin ETFs as data (src/btcstress/data/etf_funds.csv): ticker, name, issuer, launch
date and the other names sources use for a fund (Artemis calls Grayscale's mini trust "Bitcoin").

Importers use it to tell "not yet reported" (a launched fund's blank cell: the day is preliminary)
from "not launched yet" (a blank before the launch date), and to map source column names to tickers.
A new fund is a new line in the CSV, not code.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

ORIGIN = "package/btcstress/data/etf_funds.csv"


@dataclass(frozen=True)
class Fund:
    ticker: str
    name: str
    issuer: str
    launch_date: dt.date
    aliases: tuple[str, ...] = ()
    # When the fund's flow for trading day D usually appears (on Farside): hours after D+1 00:00 UTC.
    # Evidence and the conservative choice in docs/DATA.md, "Publication times".
    publication_hours: float = 24.0

    def published(self, day: dt.date) -> dt.datetime:
        """The instant the fund's flow for `day` is counted as public."""
        return dt.datetime(day.year, day.month, day.day) + dt.timedelta(days=1, hours=self.publication_hours)

    def launched_by(self, day: dt.date) -> bool:
        return self.launch_date <= day


def parse(text: str) -> tuple[Fund, ...]:
    out = []
    for row in csv.DictReader(io.StringIO(text)):
        aliases = tuple(a.strip() for a in (row.get("aliases") or "").split(";") if a.strip())
        out.append(Fund(row["ticker"].strip(), row["name"].strip(), row["issuer"].strip(),
                        dt.date.fromisoformat(row["launch_date"].strip()), aliases,
                        float(row.get("publication_hours") or 24.0)))
    return tuple(out)


@lru_cache(maxsize=1)
def packaged() -> tuple[Fund, ...]:
    return parse(resources.files("btcstress").joinpath("data/etf_funds.csv").read_text(encoding="utf-8"))


def lookup(funds: tuple[Fund, ...] | None = None) -> dict[str, Fund]:
    """Case-insensitive name -> Fund, by ticker and by every alias."""
    out: dict[str, Fund] = {}
    for f in funds if funds is not None else packaged():
        out[f.ticker.lower()] = f
        for a in f.aliases:
            out[a.lower()] = f
    return out
