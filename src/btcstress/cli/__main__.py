"""`python -m btcstress.cli ...` runs the command line (tests start real subprocesses this way)."""

from btcstress.cli import app

app()
