"""Monthly cross-sectional selection (docs/workloads.md): scores, top K, monthly returns.

Everything works on one window's span of closes (history rows + evaluated rows), a
(rows x tickers) float64 array with NaN for missing bars. The stages are timed by the
caller's StageTimer: signals (RSI, momentum, volatility, scores, selection), returns
(monthly portfolio returns after fees), metrics (Sharpe).
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np

RSI_PERIOD = 14
MONTHS_PER_YEAR = 12


@dataclass(frozen=True)
class StrategyParams:
    """One point of the search space."""

    lookback: int
    vol_window: int
    w_mom: float
    w_vol: float
    w_rsi: float
    top_k: int

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> StrategyParams:
        """Build from Optuna's params dict."""
        return cls(**{k: values[k] for k in cls.__dataclass_fields__})


def wilder_rsi(close: np.ndarray, period: int = RSI_PERIOD) -> np.ndarray:
    """Wilder RSI per ticker over its valid closes; NaN where undefined or missing.

    The same arithmetic, in the same order, as the backtest engine's numba `rsi_kernel`
    (equal to the last bit; a test checks), one row of all tickers at a time. The
    optimizer computes it once per window and process (it does not depend on the
    trial's parameters), so numpy's few milliseconds a window replace numba's start-up
    in every process (importing numba and loading a cached kernel: most of a second).
    """
    n_dates, n_tickers = close.shape
    out = np.full((n_dates, n_tickers), np.nan)
    prev = np.full(n_tickers, np.nan)
    count = np.zeros(n_tickers, dtype=np.int64)
    avg_gain = np.zeros(n_tickers)
    avg_loss = np.zeros(n_tickers)
    with np.errstate(invalid="ignore", divide="ignore"):
        for t in range(n_dates):
            c = close[t]
            have = ~np.isnan(c)
            step = have & ~np.isnan(prev)  # a change from the ticker's previous close
            d = c - prev
            prev = np.where(have, c, prev)
            if not step.any():
                continue
            gain = np.where(d > 0.0, d, 0.0)
            loss = np.where(d < 0.0, -d, 0.0)
            warming = step & (count < period)
            smooth = step & ~warming
            count += warming
            seeded = warming & (count == period)
            # Warming up: sum the first `period` moves, then their mean seeds the average.
            avg_gain = np.where(warming, avg_gain + gain, avg_gain)
            avg_loss = np.where(warming, avg_loss + loss, avg_loss)
            avg_gain = np.where(seeded, avg_gain / period, avg_gain)
            avg_loss = np.where(seeded, avg_loss / period, avg_loss)
            # Then Wilder's smoothing.
            avg_gain = np.where(smooth, (avg_gain * (period - 1) + gain) / period, avg_gain)
            avg_loss = np.where(smooth, (avg_loss * (period - 1) + loss) / period, avg_loss)
            rsi = np.where(
                avg_loss == 0.0,
                np.where(avg_gain > 0.0, 100.0, 50.0),
                100.0 - 100.0 / (1.0 + avg_gain / avg_loss),
            )
            out[t] = np.where(seeded | smooth, rsi, np.nan)
    return out


def forward_fill(close: np.ndarray) -> np.ndarray:
    """Carry the last valid close forward along time (NaN before a ticker's first bar)."""
    valid = ~np.isnan(close)
    idx = np.where(valid, np.arange(close.shape[0])[:, None], 0)
    np.maximum.accumulate(idx, axis=0, out=idx)
    filled = close[idx, np.arange(close.shape[1])]
    # Rows before a ticker's first bar point at row 0, which may itself be NaN: fine.
    return filled


def rolling_log_vol(filled: np.ndarray, rows: np.ndarray, window: int) -> np.ndarray:
    """Std (ddof=1) of the last `window` daily log returns ending at each of `rows`."""
    logret = np.diff(np.log(filled), axis=0)
    finite = np.isfinite(logret)
    x = np.where(finite, logret, 0.0)
    zero = np.zeros((1, x.shape[1]))
    s1 = np.vstack([zero, np.cumsum(x, axis=0)])
    s2 = np.vstack([zero, np.cumsum(x * x, axis=0)])
    n = np.vstack([zero, np.cumsum(finite, axis=0)])
    # Return k (0-based) is filled[k+1]/filled[k]; returns ending at row r are k < r.
    hi = rows
    lo = rows - window
    out = np.full((len(rows), x.shape[1]), np.nan)
    ok = lo >= 0
    if not ok.any():
        return out
    h, lo_ = hi[ok], lo[ok]
    count = n[h] - n[lo_]
    mean_sq = (s2[h] - s2[lo_]) - (s1[h] - s1[lo_]) ** 2 / np.maximum(count, 1)
    var = mean_sq / np.maximum(count - 1, 1)
    vol = np.sqrt(np.maximum(var, 0.0))
    out[ok] = np.where(count == window, vol, np.nan)
    return out


def zscore(x: np.ndarray, eligible: np.ndarray) -> np.ndarray:
    """Cross-sectional z-score per row over the eligible tickers (0 where std is 0)."""
    masked = np.where(eligible, x, np.nan)
    # A row with no eligible ticker (early dates, short lookbacks) is all NaN: numpy
    # warns about the empty slice, and the row correctly scores 0 below.
    with np.errstate(invalid="ignore", divide="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        mean = np.nanmean(masked, axis=1, keepdims=True)
        std = np.nanstd(masked, axis=1, keepdims=True)
        z = (masked - mean) / std
    return np.where(eligible & np.isfinite(z), z, 0.0)


def rebalance_rows(month_ends: np.ndarray, first: int) -> np.ndarray:
    """Month ends inside the window plus the last one before it (the first buy)."""
    inside = month_ends[month_ends >= first]
    before = month_ends[month_ends < first]
    return np.concatenate([before[-1:], inside]) if len(before) else inside


def select_weights(
    close: np.ndarray, rsi: np.ndarray, rows: np.ndarray, params: StrategyParams
) -> tuple[np.ndarray, np.ndarray]:
    """Equal weights of the top K scores at each rebalance row; returns (weights, filled)."""
    filled = forward_fill(close)
    hold = rows[:-1]  # the last rebalance only closes the final month
    lag = hold - params.lookback
    with np.errstate(invalid="ignore", divide="ignore"):
        past = np.where(lag[:, None] >= 0, filled[np.maximum(lag, 0)], np.nan)
        momentum = filled[hold] / past - 1.0
    vol = rolling_log_vol(filled, hold, params.vol_window)
    rsi_now = rsi[hold]
    eligible = (
        ~np.isnan(close[hold]) & np.isfinite(momentum) & np.isfinite(vol) & np.isfinite(rsi_now)
    )
    score = (
        params.w_mom * zscore(momentum, eligible)
        - params.w_vol * zscore(vol, eligible)
        - params.w_rsi * zscore(rsi_now - 50.0, eligible)
    )
    score = np.where(eligible, score, -np.inf)
    weights = np.zeros_like(score)
    n_eligible = eligible.sum(axis=1)
    order = np.argsort(-score, axis=1, kind="stable")
    for i, n in enumerate(n_eligible):
        k = min(params.top_k, int(n))
        if k:
            weights[i, order[i, :k]] = 1.0 / k
    return weights, filled


def monthly_returns(
    filled: np.ndarray, rows: np.ndarray, weights: np.ndarray, fee: float
) -> np.ndarray:
    """Each month's portfolio return minus fee * turnover at its rebalance."""
    start, stop = filled[rows[:-1]], filled[rows[1:]]
    with np.errstate(invalid="ignore", divide="ignore"):
        ticker_ret = stop / start - 1.0
    gross = np.sum(np.where(weights > 0, weights * np.nan_to_num(ticker_ret), 0.0), axis=1)
    previous = np.vstack([np.zeros((1, weights.shape[1])), weights[:-1]])
    turnover = np.abs(weights - previous).sum(axis=1)
    return gross - fee * turnover


def sharpe(returns: np.ndarray) -> float:
    """Annualized Sharpe of monthly returns; NaN/inf when it is undefined (flat returns)."""
    if len(returns) < 2:
        return math.nan
    std = float(np.std(returns, ddof=1))
    mean = float(np.mean(returns))
    with np.errstate(invalid="ignore", divide="ignore"):
        return float(np.float64(mean) / np.float64(std) * math.sqrt(MONTHS_PER_YEAR))
