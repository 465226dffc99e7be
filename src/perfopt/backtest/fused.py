"""The fused numba kernel: RSI, signals and every sleeve in one pass over the dates.

`backtest_kernel` gives the same bits as `reference.py` (RSI then simulate) on any input:
the same floating-point operations on the same operands, only arranged so the CPU can
overlap them. What the arrangement buys, and why it keeps every result:

- Per date, one branch-free loop over the tickers updates the Wilder averages and one
  computes the RSI, the entry/exit test and each sleeve's value. Both have no control
  flow, so LLVM vectorizes them (the four divisions per bar are the floor). A sleeve
  acts (buys or sells) on a few tickers a date; a scalar loop visits only those, testing
  the entry/exit flags eight at a time.
- The portfolio equity of a date is a sum over tickers in ticker order, a chain of
  dependent additions that cannot be reordered without changing bits. The chains of
  different dates are independent, so BLOCK dates are summed side by side, each in its
  own lane and in ticker order: the same sums, no longer one addition at a time.
- State is one vector per ticker (RSI averages, position, cash, shares); the only
  dates x tickers array is the input. Trades are appended to buffers sized for a few
  round trips per ticker and grown when a date could overflow them (`_run_dates` stops
  before such a date; `backtest_kernel` grows the buffers and resumes), so the hot loop
  never reallocates.
"""

from __future__ import annotations

import numba
import numpy as np

BLOCK = 8  # dates whose equity sums run side by side
_INT_FIELDS = 3  # trade buffer columns: ticker column, entry row, exit row (-1 while open)
_FLOAT_FIELDS = 4  # entry price, exit price (NaN while open), shares, cost


@numba.njit(cache=True, error_model="numpy")
def _run_dates(
    close, t, period, oversold, overbought, fee,
    prev, count, avg_gain, avg_loss, defined, event, last, cash, shares, open_trade,
    value, equity, trade_int, trade_float, n,
):  # fmt: skip
    """Advance every sleeve from date t; return (next date, trades) when done or when
    the trade buffers might not hold one more date's entries."""
    n_dates, n_tickers = close.shape
    capacity = trade_int.shape[0]
    fperiod = float(period)
    fpm1 = float(period - 1)
    buy_k = 1.0 + fee
    sell_k = 1.0 - fee
    totals = np.zeros(BLOCK)
    words = event.view(np.uint64)  # event is padded to whole 8-byte words
    while t < n_dates:
        if capacity - n < n_tickers:
            return t, n
        row = close[t]
        b = t % BLOCK
        # 1. Wilder averages (reference.rsi_reference, one bar per ticker, branch-free).
        for j in range(n_tickers):
            c = row[j]
            p = prev[j]
            k = count[j]
            ag = avg_gain[j]
            al = avg_loss[j]
            d = c - p
            gain = d if d > 0.0 else 0.0
            loss = -d if d < 0.0 else 0.0
            valid = c == c
            step = valid and p == p
            warm = k < period
            sum_g = ag + gain if warm else ag * fpm1 + gain
            sum_l = al + loss if warm else al * fpm1 + loss
            divide = (not warm) or k + 1 == period
            new_g = sum_g / fperiod if divide else sum_g
            new_l = sum_l / fperiod if divide else sum_l
            avg_gain[j] = new_g if step else ag
            avg_loss[j] = new_l if step else al
            count[j] = k + 1 if (step and warm) else k
            prev[j] = c if valid else p
            defined[j] = step and k + 1 >= period
            last[j] = c if valid else last[j]
        # 2. RSI, the sleeve's signal and its value before acting (branch-free).
        n_events = 0
        for j in range(n_tickers):
            g = avg_gain[j]
            lo = avg_loss[j]
            r = 100.0 - 100.0 / (1.0 + g / lo)
            r_flat = 100.0 if g > 0.0 else 50.0
            r = r if lo != 0.0 else r_flat
            s = shares[j]
            cj = cash[j]
            flat = s == 0.0
            buy = r < oversold
            sell = r > overbought
            # bitwise, not and/or: no branch, so AVX2 targets vectorize this loop too
            act = defined[j] & ((flat & buy) | ((not flat) & sell))
            event[j] = act
            n_events += act
            held = cj + s * last[j]
            value[b, j] = cj if flat else held
        # 3. The few sleeves that act this date, in ticker order; 8 quiet tickers per test.
        w = 0
        while n_events > 0:
            if words[w] != 0:
                for j in range(8 * w, 8 * w + 8):
                    if not event[j]:
                        continue
                    n_events -= 1
                    c = row[j]
                    s = shares[j]
                    if s == 0.0:
                        cost = cash[j]
                        s = cost / (c * buy_k)
                        shares[j] = s
                        cash[j] = 0.0
                        trade_int[n, 0] = j
                        trade_int[n, 1] = t
                        trade_int[n, 2] = -1
                        trade_float[n, 0] = c
                        trade_float[n, 1] = np.nan
                        trade_float[n, 2] = s
                        trade_float[n, 3] = cost
                        open_trade[j] = n
                        n += 1
                        value[b, j] = 0.0 + s * last[j]
                    else:
                        proceeds = s * c * sell_k
                        cash[j] = proceeds
                        shares[j] = 0.0
                        k = open_trade[j]
                        trade_int[k, 2] = t
                        trade_float[k, 1] = c
                        open_trade[j] = -1
                        value[b, j] = proceeds
            w += 1
        # 4. Equity of the block's dates: each summed in ticker order, side by side.
        if b == BLOCK - 1 or t == n_dates - 1:
            totals[:] = 0.0
            for j in range(n_tickers):
                for i in range(BLOCK):
                    totals[i] += value[i, j]
            for i in range(b + 1):
                equity[t - b + i] = totals[i]
        t += 1
    return t, n


@numba.njit(cache=True, error_model="numpy")
def backtest_kernel(close, period, oversold, overbought, fee, sleeve_cash, capacity=0):
    """RSI signals and every sleeve in one pass; same outputs as RSI + `simulate_kernel`.

    Returns (equity per date, final sleeve equity, ticker column, entry row, entry price,
    exit row (-1 while open), exit price (NaN while open), shares, cost), trades in the
    order they were opened. `capacity` is the first size of the trade buffers (0: four
    round trips per ticker); they grow on demand, so any value gives the same result.
    """
    n_dates, n_tickers = close.shape
    prev = np.full(n_tickers, np.nan)
    count = np.zeros(n_tickers, dtype=np.int64)
    avg_gain = np.zeros(n_tickers)
    avg_loss = np.zeros(n_tickers)
    defined = np.zeros(n_tickers, dtype=np.bool_)
    event = np.zeros((n_tickers + 7) // 8 * 8, dtype=np.bool_)  # whole 8-byte words
    last = np.full(n_tickers, np.nan)
    cash = np.full(n_tickers, sleeve_cash)
    shares = np.zeros(n_tickers)
    open_trade = np.full(n_tickers, -1, dtype=np.int64)
    value = np.zeros((BLOCK, n_tickers))
    equity = np.empty(n_dates)
    size = capacity if capacity > 0 else 4 * n_tickers
    size = max(size, n_tickers)
    trade_int = np.empty((size, _INT_FIELDS), dtype=np.int64)
    trade_float = np.empty((size, _FLOAT_FIELDS))
    t = 0
    n = 0
    while True:
        t, n = _run_dates(
            close, t, period, oversold, overbought, fee,
            prev, count, avg_gain, avg_loss, defined, event, last, cash, shares, open_trade,
            value, equity, trade_int, trade_float, n,
        )  # fmt: skip
        if t == n_dates:
            break
        size = max(2 * size, n + n_tickers)
        grown_int = np.empty((size, _INT_FIELDS), dtype=np.int64)
        grown_int[:n] = trade_int[:n]
        trade_int = grown_int
        grown_float = np.empty((size, _FLOAT_FIELDS))
        grown_float[:n] = trade_float[:n]
        trade_float = grown_float
    final = np.empty(n_tickers)
    for j in range(n_tickers):
        final[j] = cash[j] if shares[j] == 0.0 else cash[j] + shares[j] * last[j]
    return (
        equity,
        final,
        trade_int[:n, 0].copy(),
        trade_int[:n, 1].copy(),
        trade_float[:n, 0].copy(),
        trade_int[:n, 2].copy(),
        trade_float[:n, 1].copy(),
        trade_float[:n, 2].copy(),
        trade_float[:n, 3].copy(),
    )
