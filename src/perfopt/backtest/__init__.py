"""The RSI sleeve backtest: reference and numba engines, sharding, metrics."""

from __future__ import annotations

from perfopt.backtest.config import ENGINES, BacktestConfig
from perfopt.backtest.engine import run_backtest
from perfopt.backtest.metrics import compute_metrics
from perfopt.backtest.result import BacktestResult, Trades
from perfopt.machine import START_METHODS

__all__ = [
    "ENGINES",
    "START_METHODS",
    "BacktestConfig",
    "BacktestResult",
    "Trades",
    "compute_metrics",
    "run_backtest",
]
