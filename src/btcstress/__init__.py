"""btcstress: how stressed is the Bitcoin market, why, and what happens if it falls further."""

__version__ = "0.1.0"


def open(path=None, *, read_only: bool = True, params=None):  # noqa: A001 - the documented entry point
    """Open a store for analysis: `btcstress.open("data/btcstress.duckdb").history("price.close_usd")`."""
    from btcstress.handle import Btcstress
    return Btcstress(path, read_only=read_only, params=params)
