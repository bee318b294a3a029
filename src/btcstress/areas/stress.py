"""The stress index: one number for how stressed the market is (robust scores of the forces' measures
against their own history), its components per force, its history and past episodes."""

from btcstress.areas import Area, FindingSpec as F

AREA = Area(
    name="stress", title="Stress index", prefixes=("stress",),
    metrics="btcstress.metrics.stress", section="btcstress.brief.sections.stress",
    section_order=-1,  # the brief opens with how stressed the market is
    charts=True,
    monitored=False,  # computed from every table's history at once, not from one live source
    findings=(
        F('stress.component.etf', 'z', 'BTC',
          "ETF flows: mean of its measures' robust scores (sign × (value − median) / (IQR / 1.349), trailing 365 days known at T, clipped to ±8.0)"),
        F('stress.component.leverage', 'z', 'BTC',
          "Leverage and liquidations: mean of its measures' robust scores (sign × (value − median) / (IQR / 1.349), trailing 365 days known at T, clipped to ..."),
        F('stress.component.market', 'z', 'BTC',
          "Market-wide selling: mean of its measures' robust scores (sign × (value − median) / (IQR / 1.349), trailing 365 days known at T, clipped to ±8.0)"),
        F('stress.component.miners', 'z', 'BTC',
          "Miners' selling and margin: mean of its measures' robust scores (sign × (value − median) / (IQR / 1.349), trailing 365 days known at T, clipped to ..."),
        F('stress.component.price', 'z', 'BTC',
          "Price move: mean of its measures' robust scores (sign × (value − median) / (IQR / 1.349), trailing 365 days known at T, clipped to ±8.0)"),
        F('stress.component.treasuries', 'z', 'BTC',
          "Corporate treasuries: mean of its measures' robust scores (sign × (value − median) / (IQR / 1.349), trailing 365 days known at T, clipped to ±8.0)"),
        F('stress.episode', 'date', '#1..#k (episodes, nearest first)',
          "a past day-end whose stress index components were nearest to as-of's (one per episode, nearest first)"),
        F('stress.episodes.forward_return_pct', 'pct', 'BTC',
          "median of the episodes' forward returns over the window (1d, 7d, 30d)"),
        F('stress.index', 'z', 'BTC',
          "weighted mean of the forces' components available at T (fixed weights, renormalised over those present)"),
        F('stress.index_highest_since', 'date', 'BTC',
          "the last day before as-of's day whose stress index was at least as-of's"),
    ),
)
