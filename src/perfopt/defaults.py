"""Default sizes of the seed workloads, in a module light enough for `perfopt --help`."""

from __future__ import annotations

# The backtest seed (004): 500 stocks over three years, RSI 14/30/70.
DEFAULT_TICKERS = 500
DEFAULT_START = "2023-02-06"
DEFAULT_END = "2026-02-04"
DEFAULT_SEED = 7

# The timeframe-grid seed (001): 1-minute crypto bars.
DEFAULT_INTRADAY_DAYS = 60
DEFAULT_INTRADAY_START = "2024-01-01"

# The daily-panel stores, by name: one definition for the data layer, the backtest and
# the CLI choices (kept here so `--help` needs no numpy).
DATA_SOURCES: tuple[str, ...] = ("sqlite", "parquet", "hdf5")
