"""The monitor: live (or replayed) data in, findings recomputed where they changed, alert rules out.

Rules come from a YAML file, a list (or `rules:` holding a list) of
    - name: btc-liquidations-24h
      finding: liquidations.total_usd   # a finding id (public contract)
      subject: BTC                      # optional: only this subject
      window: 24h                       # optional: only findings whose window starts with this
      op: ">"                           # > < >= <=
      value: 100000000
      cooldown: 15m                     # seconds, or 30s / 15m / 2h / 1d
A rule fires when a computed (not cited) finding matches and its value satisfies `op value`, then
stays quiet for `cooldown` (on the monitor's clock) for that subject and window. An alert is one JSON
object, written as a line to stdout, appended to a file, and POSTed to a webhook (with retries).

How it stays fast: messages are parsed and buffered as they come; the buffer is written to the store
every `batch_messages` messages or `batch_ms` milliseconds (one transaction), and findings are
recomputed at most every `recompute_ms`, and only for the metric areas whose tables changed and that
some rule reads. Which source feeds which area is declared by the areas (`pulls`, `streams` in
btcstress.areas): a liquidation message dirties `leverage`; a Binance kline pull dirties `price` (and
the areas valued at the price), `market` and `leverage`; mempool -> `miners`; Farside -> `etf`; EDGAR
-> `treasuries`.

The clock: live, as-of is now; in replay it is the latest publication instant among the events seen
(the stream's own time), so a recorded stream's trailing-24 h findings are those of the moment it was
recorded, and cooldowns follow the recording, not the wall clock.

The package: `rules.py` (the rules file, validation, `area_of`), `sinks.py` (stdout, file, webhook;
the alert object), `core.py` (`Monitor`: batches, recompute, rules, replay), `live.py` (`run_live`).
"""

from btcstress.monitor.core import FINAL_FLUSH_WAIT, Monitor, MonitorStats, percentile
from btcstress.monitor.live import PULL_EVERY, STOP_GRACE, run_live
from btcstress.monitor.rules import OPS, Rule, area_of, load_rules, validate
from btcstress.monitor.sinks import FileSink, StdoutSink, WebhookSink, alert, message, payload

__all__ = ["FINAL_FLUSH_WAIT", "OPS", "PULL_EVERY", "STOP_GRACE", "FileSink", "Monitor", "MonitorStats", "Rule",
           "StdoutSink", "WebhookSink", "alert", "area_of", "load_rules", "message", "payload", "percentile",
           "run_live", "validate"]
