"""The long-only trade loop of the LTF/HTF strategy, in plain Python and compiled by numba.

One source, two engines: `simulate` and `rsi_loop` are plain Python (the reference);
`compiled(name)` returns the same function compiled with `numba.njit(cache=True)`, so
both engines run exactly the same arithmetic.

Timing rules (no look-ahead): a signal is read at bar t's close and filled at bar t+1's
open. A stop-loss or take-profit is checked inside every bar held, from the entry bar on,
and fills at the stop/target price, or at the open when the bar gaps through it; when
both are touched in one bar the stop is assumed first (the conservative choice). A
position still open after the last bar is closed at the last close, costs included,
so every trade is counted and charged.

Costs: a buy fills at price * (1 + slip), a sell at price * (1 - slip); every fill pays
`fee` of its notional. Equity starts at 1.0 and is marked at each bar's close.
"""

from __future__ import annotations

import numpy as np


def simulate(
    open_: np.ndarray,
    high: np.ndarray,
    low: np.ndarray,
    close: np.ndarray,
    entry: np.ndarray,
    exit_: np.ndarray,
    use_stop: bool,
    stop_pct: float,
    use_tp: bool,
    tp_pct: float,
    fee: float,
    slip: float,
    equity: np.ndarray,
) -> tuple[int, int, int]:
    """Fill `equity` (one mark per bar); return (trades, winning trades, bars held)."""
    n = len(close)
    cash = 1.0
    units = 0.0
    long = False
    pending_entry = False
    pending_exit = False
    stop = 0.0
    target = 0.0
    cost_basis = 0.0
    n_trades = 0
    n_wins = 0
    held = 0
    for t in range(n):
        if pending_exit and long:
            cash = units * open_[t] * (1.0 - slip) * (1.0 - fee)
            if cash > cost_basis:
                n_wins += 1
            long = False
        elif pending_entry and not long:
            price = open_[t] * (1.0 + slip)
            cost_basis = cash
            units = cash * (1.0 - fee) / price
            stop = price * (1.0 - stop_pct)
            target = price * (1.0 + tp_pct)
            long = True
            n_trades += 1
        pending_entry = False
        pending_exit = False
        if long:
            held += 1
            fill = -1.0
            if use_stop and low[t] <= stop:
                fill = min(open_[t], stop)
            elif use_tp and high[t] >= target:
                fill = max(open_[t], target)
            if fill > 0.0:
                cash = units * fill * (1.0 - slip) * (1.0 - fee)
                if cash > cost_basis:
                    n_wins += 1
                long = False
        if long:
            equity[t] = units * close[t]
            if exit_[t]:
                pending_exit = True
        else:
            equity[t] = cash
            if entry[t]:
                pending_entry = True
    if long and n > 0:
        cash = units * close[n - 1] * (1.0 - slip) * (1.0 - fee)
        if cash > cost_basis:
            n_wins += 1
        equity[n - 1] = cash
    return n_trades, n_wins, held


def rsi_loop(close: np.ndarray, period: int, out: np.ndarray) -> None:
    """Wilder RSI into `out` (NaN before bar `period`), one bar at a time."""
    n = len(close)
    for t in range(min(n, period + 1)):
        out[t] = np.nan
    if n <= period:
        return
    avg_gain = 0.0
    avg_loss = 0.0
    for t in range(1, n):
        d = close[t] - close[t - 1]
        gain = d if d > 0.0 else 0.0
        loss = -d if d < 0.0 else 0.0
        if t <= period:
            avg_gain += gain
            avg_loss += loss
            if t < period:
                continue
            avg_gain /= period
            avg_loss /= period
        else:
            avg_gain = (avg_gain * (period - 1) + gain) / period
            avg_loss = (avg_loss * (period - 1) + loss) / period
        if avg_loss == 0.0:
            out[t] = 100.0 if avg_gain > 0.0 else 50.0
        else:
            out[t] = 100.0 - 100.0 / (1.0 + avg_gain / avg_loss)


_COMPILED: dict[str, object] = {}


def compiled(name: str):  # noqa: ANN201 - returns a numba dispatcher
    """Return `simulate` or `rsi_loop` compiled by numba (compiled or loaded from cache)."""
    if name not in _COMPILED:
        import numba

        _COMPILED[name] = numba.njit(cache=True)({"simulate": simulate, "rsi_loop": rsi_loop}[name])
    return _COMPILED[name]
