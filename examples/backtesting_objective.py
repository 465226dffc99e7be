"""A backtest objective written with backtesting.py (PyPI `backtesting`), on its GOOG data.

An SMA crossover on the daily GOOG bars (2004-2013) that backtesting.py ships; the
objective maximizes the Sharpe ratio of the backtest:

    perfopt optimize --objective examples/backtesting_objective.py:objective \
        --direction maximize --n-trials 100 --n-jobs 2 --storage journal:///tmp/sma.log

A flat strategy (no trade) has no Sharpe ratio (NaN): `--nan-policy` decides whether
that trial fails (default) or takes a penalty.
"""

from __future__ import annotations

import warnings
from typing import Any

from perfopt import stage


def _strategy(fast: int, slow: int) -> Any:
    from backtesting import Strategy
    from backtesting.lib import crossover
    from backtesting.test import SMA

    class SmaCross(Strategy):
        def init(self) -> None:
            self.sma1 = self.I(SMA, self.data.Close, fast)
            self.sma2 = self.I(SMA, self.data.Close, slow)

        def next(self) -> None:
            if crossover(self.sma1, self.sma2):
                self.position.close()
                self.buy()
            elif crossover(self.sma2, self.sma1):
                self.position.close()
                self.sell()

    return SmaCross


def _quiet_backtest() -> Any:
    """backtesting.py's Backtest without its per-run progress bar (one per trial is noise)."""
    import backtesting.backtesting as bt

    bt._tqdm = lambda seq, **_: seq
    return bt.Backtest


def objective(trial: Any) -> float:
    """Sharpe ratio of an SMA(fast)/SMA(slow) crossover on GOOG, 0.2% commission."""
    backtest = _quiet_backtest()

    fast = trial.suggest_int("fast", 5, 50)
    slow = trial.suggest_int("slow", fast + 5, 200)
    with stage("data"):
        from backtesting.test import GOOG

        bars = GOOG.copy()
    with stage("backtest"), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # e.g. about trades still open at the end
        stats = backtest(bars, _strategy(fast, slow), cash=10_000, commission=0.002).run()
    trial.set_user_attr("trades", int(stats["# Trades"]))
    return float(stats["Sharpe Ratio"])
