"""The two-kernel numba path: `rsi_kernel` then `simulate_kernel`.

The backtest engine runs the fused one-pass kernel (`fused.py`) instead. These stay
because the optimizer's objective calls `rsi_kernel` for its own strategy, and
`simulate_kernel` is the baseline the fused kernel is measured against (benchmarks,
`scripts/backtest_figures.py`) and checked against in the tests.

The arithmetic follows `reference.py` operation by operation, so both engines give the
same floating-point results (the spec asks for 1e-9 relative; in practice they agree to
the last bit except where the portfolio sum differs in order). Loops run time-outer,
ticker-inner over C-ordered (dates x tickers) arrays, so memory is read row by row.
"""

from __future__ import annotations

import numba
import numpy as np


@numba.njit(cache=True)
def rsi_kernel(close: np.ndarray, period: int) -> np.ndarray:
    """Wilder RSI per ticker over its valid closes; NaN where undefined or missing."""
    n_dates, n_tickers = close.shape
    out = np.full((n_dates, n_tickers), np.nan)
    prev = np.full(n_tickers, np.nan)
    count = np.zeros(n_tickers, dtype=np.int64)
    avg_gain = np.zeros(n_tickers)
    avg_loss = np.zeros(n_tickers)
    for t in range(n_dates):
        for j in range(n_tickers):
            c = close[t, j]
            if np.isnan(c):
                continue
            p = prev[j]
            prev[j] = c
            if np.isnan(p):
                continue
            d = c - p
            gain = d if d > 0.0 else 0.0
            loss = -d if d < 0.0 else 0.0
            k = count[j]
            if k < period:
                avg_gain[j] += gain
                avg_loss[j] += loss
                k += 1
                count[j] = k
                if k < period:
                    continue
                avg_gain[j] = avg_gain[j] / period
                avg_loss[j] = avg_loss[j] / period
            else:
                avg_gain[j] = (avg_gain[j] * (period - 1) + gain) / period
                avg_loss[j] = (avg_loss[j] * (period - 1) + loss) / period
            g = avg_gain[j]
            lo = avg_loss[j]
            if lo == 0.0:
                out[t, j] = 100.0 if g > 0.0 else 50.0
            else:
                out[t, j] = 100.0 - 100.0 / (1.0 + g / lo)
    return out


@numba.njit(cache=True)
def simulate_kernel(
    close: np.ndarray,
    rsi: np.ndarray,
    oversold: float,
    overbought: float,
    fee: float,
    sleeve_cash: float,
):
    """Run every sleeve; return (equity per date, final sleeve equity, trade arrays).

    Trades come back as parallel arrays in the order they happened: ticker column,
    entry row, entry price, exit row (-1 while open), exit price (NaN while open),
    shares, cost (cash spent at entry).
    """
    n_dates, n_tickers = close.shape
    cash = np.full(n_tickers, sleeve_cash)
    shares = np.zeros(n_tickers)
    last = np.full(n_tickers, np.nan)
    open_trade = np.full(n_tickers, -1, dtype=np.int64)
    equity = np.empty(n_dates)
    capacity = n_tickers * (n_dates // 2 + 1)
    t_col = np.empty(capacity, dtype=np.int64)
    t_entry = np.empty(capacity, dtype=np.int64)
    t_entry_px = np.empty(capacity)
    t_exit = np.empty(capacity, dtype=np.int64)
    t_exit_px = np.empty(capacity)
    t_shares = np.empty(capacity)
    t_cost = np.empty(capacity)
    n_trades = 0
    for t in range(n_dates):
        total = 0.0
        for j in range(n_tickers):
            c = close[t, j]
            if not np.isnan(c):
                last[j] = c
                r = rsi[t, j]
                if not np.isnan(r):
                    if shares[j] == 0.0:
                        if r < oversold:
                            cost = cash[j]
                            shares[j] = cost / (c * (1.0 + fee))
                            cash[j] = 0.0
                            t_col[n_trades] = j
                            t_entry[n_trades] = t
                            t_entry_px[n_trades] = c
                            t_exit[n_trades] = -1
                            t_exit_px[n_trades] = np.nan
                            t_shares[n_trades] = shares[j]
                            t_cost[n_trades] = cost
                            open_trade[j] = n_trades
                            n_trades += 1
                    elif r > overbought:
                        cash[j] = shares[j] * c * (1.0 - fee)
                        shares[j] = 0.0
                        k = open_trade[j]
                        t_exit[k] = t
                        t_exit_px[k] = c
                        open_trade[j] = -1
            if shares[j] == 0.0:
                total += cash[j]
            else:
                total += cash[j] + shares[j] * last[j]
        equity[t] = total
    final = np.empty(n_tickers)
    for j in range(n_tickers):
        final[j] = cash[j] if shares[j] == 0.0 else cash[j] + shares[j] * last[j]
    return (
        equity,
        final,
        t_col[:n_trades].copy(),
        t_entry[:n_trades].copy(),
        t_entry_px[:n_trades].copy(),
        t_exit[:n_trades].copy(),
        t_exit_px[:n_trades].copy(),
        t_shares[:n_trades].copy(),
        t_cost[:n_trades].copy(),
    )
