"""The long-only trade loop of the LTF/HTF strategy, in plain Python and compiled by numba.

One source, two engines: `simulate` is plain Python (the reference); `compiled_simulate()`
returns the same function compiled with `numba.njit(cache=True)`, so both engines run
exactly the same arithmetic. The RSI is the backtest's (`perfopt.backtest`): its
reference loop for the Python engine, its numba kernel for the compiled one.

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
    """Wilder RSI into `out` (NaN before bar `period`): the backtest's reference, one column."""
    from perfopt.backtest.reference import rsi_reference

    column = np.asarray(close, dtype=np.float64).reshape(-1, 1)
    out[:] = rsi_reference(column, period)[:, 0]


_COMPILED: dict[str, object] = {}


def compiled(name: str):  # noqa: ANN201 - returns a numba dispatcher
    """Return `simulate` compiled by numba (compiled or loaded from cache)."""
    if name not in _COMPILED:
        import numba

        _COMPILED[name] = numba.njit(cache=True)({"simulate": simulate}[name])
    return _COMPILED[name]


def compiled_simulate():  # noqa: ANN201 - returns a numba dispatcher
    """The trade loop `simulate` compiled by numba: same arguments, same arithmetic."""
    return compiled("simulate")
