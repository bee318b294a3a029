"""`python -m btcstress.areas` prints the finding catalogue as Markdown (the table in docs/METRICS.md)."""

from btcstress import areas

print(areas.markdown(), end="")
