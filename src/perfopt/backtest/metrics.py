"""Portfolio metrics from an equity curve."""

from __future__ import annotations

import math

import numpy as np

TRADING_DAYS = 252


def compute_metrics(equity: np.ndarray, n_buys: int, closed_pnl: np.ndarray) -> dict[str, float]:
    """Return total/annual return, annual vol, Sharpe, max drawdown, trades, win rate."""
    equity = np.asarray(equity, dtype=np.float64)
    n_returns = len(equity) - 1
    if n_returns < 1:
        raise ValueError("metrics need at least two equity values")
    returns = equity[1:] / equity[:-1] - 1.0
    std = float(np.std(returns, ddof=1)) if n_returns > 1 else math.nan
    mean = float(np.mean(returns))
    growth = float(equity[-1] / equity[0])
    drawdown = equity / np.maximum.accumulate(equity) - 1.0
    return {
        "total_return": growth - 1.0,
        "annual_return": growth ** (TRADING_DAYS / n_returns) - 1.0,
        "annual_vol": std * math.sqrt(TRADING_DAYS),
        "sharpe": mean / std * math.sqrt(TRADING_DAYS) if std > 0 else math.nan,
        "max_drawdown": float(drawdown.min()),
        "n_trades": int(n_buys),
        "win_rate": float(np.mean(closed_pnl > 0)) if len(closed_pnl) else math.nan,
    }
