"""The stress index: one number for how stressed the market is (robust scores of the forces' measures
against their own history), its components per force, its history and past episodes."""

from btcstress.areas import Area

AREA = Area(
    name="stress", title="Stress index", prefixes=("stress",),
    metrics="btcstress.metrics.stress", section="btcstress.brief.sections.stress",
    section_order=-1,  # the brief opens with how stressed the market is
    charts=True,
    monitored=False,  # computed from every table's history at once, not from one live source
)
