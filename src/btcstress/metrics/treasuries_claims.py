"""The treasuries area's claim rules (see btcstress/claims/rules.py): an average cost and a breakeven
price are prices per BTC (the 2% tolerance, not the 10% of USD totals)."""

from btcstress.claims.rules import ClaimRule

RULES = [ClaimRule(ids=("treasury.avg_cost_usd", "treasury.breakeven_price_usd"), per_btc=True)]
