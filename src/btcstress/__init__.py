"""btcstress: how stressed is the Bitcoin market, why, and what happens if it falls further."""

__version__ = "0.1.0"
