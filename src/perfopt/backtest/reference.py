"""The legacy engine: a plain-Python event loop over dates and tickers.

Kept on purpose as the measured baseline. It mirrors `kernels.py` operation by
operation (same order of floating-point operations), so the two engines agree.
"""

from __future__ import annotations

import math

import numpy as np


def rsi_reference(close: np.ndarray, period: int) -> np.ndarray:
    """Wilder RSI per ticker over its valid closes, one bar at a time in Python."""
    n_dates, n_tickers = close.shape
    rows = close.tolist()
    out = [[math.nan] * n_tickers for _ in range(n_dates)]
    prev = [math.nan] * n_tickers
    count = [0] * n_tickers
    avg_gain = [0.0] * n_tickers
    avg_loss = [0.0] * n_tickers
    for t in range(n_dates):
        row = rows[t]
        out_row = out[t]
        for j in range(n_tickers):
            c = row[j]
            if c != c:  # NaN: no bar, the state carries over the gap
                continue
            p = prev[j]
            prev[j] = c
            if p != p:
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
                out_row[j] = 100.0 if g > 0.0 else 50.0
            else:
                out_row[j] = 100.0 - 100.0 / (1.0 + g / lo)
    return np.array(out, dtype=np.float64).reshape(n_dates, n_tickers)


def simulate_reference(
    close: np.ndarray,
    rsi: np.ndarray,
    oversold: float,
    overbought: float,
    fee: float,
    sleeve_cash: float,
) -> tuple[np.ndarray, ...]:
    """Run every sleeve bar by bar; same outputs as `kernels.simulate_kernel`."""
    n_dates, n_tickers = close.shape
    close_rows = close.tolist()
    rsi_rows = rsi.tolist()
    cash = [sleeve_cash] * n_tickers
    shares = [0.0] * n_tickers
    last = [math.nan] * n_tickers
    open_trade = [-1] * n_tickers
    equity = [0.0] * n_dates
    trades: list[list] = []  # [col, entry, entry_px, exit, exit_px, shares, cost]
    for t in range(n_dates):
        crow = close_rows[t]
        rrow = rsi_rows[t]
        total = 0.0
        for j in range(n_tickers):
            c = crow[j]
            if c == c:
                last[j] = c
                r = rrow[j]
                if r == r:
                    if shares[j] == 0.0:
                        if r < oversold:
                            cost = cash[j]
                            shares[j] = cost / (c * (1.0 + fee))
                            cash[j] = 0.0
                            open_trade[j] = len(trades)
                            trades.append([j, t, c, -1, math.nan, shares[j], cost])
                    elif r > overbought:
                        cash[j] = shares[j] * c * (1.0 - fee)
                        shares[j] = 0.0
                        trade = trades[open_trade[j]]
                        trade[3] = t
                        trade[4] = c
                        open_trade[j] = -1
            if shares[j] == 0.0:
                total += cash[j]
            else:
                total += cash[j] + shares[j] * last[j]
        equity[t] = total
    final = [
        cash[j] if shares[j] == 0.0 else cash[j] + shares[j] * last[j] for j in range(n_tickers)
    ]
    columns = list(zip(*trades, strict=True)) if trades else [()] * 7
    int_cols = (0, 1, 3)
    return (
        np.array(equity),
        np.array(final),
        *(
            np.array(col, dtype=np.int64 if i in int_cols else np.float64)
            for i, col in enumerate(columns)
        ),
    )
