"""Deterministic synthetic daily panels shaped like the seed's 500 stocks x 3 years."""

from __future__ import annotations

import numpy as np
import pandas as pd

from perfopt.data.panel import Panel
from perfopt.defaults import DEFAULT_END, DEFAULT_SEED, DEFAULT_START, DEFAULT_TICKERS
from perfopt.errors import UserError


def weekday_calendar(start: str, end: str) -> np.ndarray:
    """Return every weekday from start to end inclusive as datetime64[D]."""
    try:
        days = pd.bdate_range(start, end)
    except (ValueError, TypeError) as exc:
        raise UserError(f"invalid date range {start!r}..{end!r}: {exc}; use YYYY-MM-DD") from None
    if len(days) == 0:
        raise UserError(f"no weekdays between {start} and {end}: put --start before --end")
    return days.to_numpy().astype("datetime64[D]")


def ticker_names(n: int) -> tuple[str, ...]:
    """Return n stable ticker symbols (S0000, S0001, ...)."""
    return tuple(f"S{i:04d}" for i in range(n))


def _regime_returns(rng: np.random.Generator, n_days: int, n_tickers: int) -> np.ndarray:
    """Daily log returns with per-ticker regimes of drift and volatility.

    Regimes last ~40 trading days on average; within a regime, a mild mean reversion
    makes RSI extremes revert often enough for the strategy to trade.
    """
    base_vol = rng.lognormal(np.log(0.018), 0.35, n_tickers)
    switch = rng.random((n_days, n_tickers)) < 1.0 / 40.0
    regime_id = np.cumsum(switch, axis=0)
    n_regimes = int(regime_id.max()) + 1
    drift_table = rng.normal(0.0002, 0.0015, (n_regimes, n_tickers))
    vol_table = rng.lognormal(0.0, 0.3, (n_regimes, n_tickers))
    cols = np.arange(n_tickers)
    drift = drift_table[regime_id, cols]
    vol = base_vol * vol_table[regime_id, cols]
    shocks = rng.standard_normal((n_days, n_tickers))
    returns = np.empty((n_days, n_tickers))
    previous = np.zeros(n_tickers)
    for t in range(n_days):
        # AR(1) with a negative coefficient: short-term reversal, as in real equities.
        previous = drift[t] - 0.08 * previous + vol[t] * shocks[t]
        returns[t] = previous
    return returns


def _gap_mask(rng: np.random.Generator, n_days: int, n_tickers: int) -> np.ndarray:
    """Return True where a bar is missing: late listings, delistings, suspensions."""
    missing = np.zeros((n_days, n_tickers), dtype=bool)
    late = rng.random(n_tickers) < 0.08
    for j in np.flatnonzero(late):
        missing[: rng.integers(1, max(2, int(n_days * 0.4))), j] = True
    delisted = rng.random(n_tickers) < 0.05
    for j in np.flatnonzero(delisted):
        missing[rng.integers(int(n_days * 0.6), max(int(n_days * 0.6) + 1, n_days - 5)) :, j] = True
    suspended = rng.random(n_tickers) < 0.15
    for j in np.flatnonzero(suspended):
        for _ in range(rng.integers(1, 4)):
            start = rng.integers(0, n_days - 1)
            missing[start : start + rng.integers(1, 6), j] = True
    # Every calendar day keeps at least one bar, so the calendar read back equals it.
    empty_days = missing.all(axis=1)
    missing[empty_days, 0] = False
    return missing


def generate_panel(
    n_tickers: int = DEFAULT_TICKERS,
    start: str = DEFAULT_START,
    end: str = DEFAULT_END,
    seed: int = DEFAULT_SEED,
    gaps: bool = False,
    n_days: int | None = None,
) -> Panel:
    """Generate a deterministic OHLCV panel on a weekday calendar.

    With `n_days`, the calendar is the first n_days weekdays from `start` and `end` is
    ignored (the seed's 3 years are 756 trading days; a weekday calendar has ~783).
    """
    if n_tickers < 1:
        raise UserError(f"--tickers must be at least 1, got {n_tickers}")
    if n_days is not None:
        if n_days < 2:
            raise UserError(f"--days must be at least 2, got {n_days}")
        end = str(np.datetime64(start, "D") + n_days * 2 + 7)
        dates = weekday_calendar(start, end)[:n_days]
    else:
        dates = weekday_calendar(start, end)
    n_days = len(dates)
    if n_days < 2:
        raise UserError(f"{start}..{end} holds {n_days} weekday(s); a backtest needs at least 2")
    rng = np.random.default_rng(seed)
    start_price = rng.lognormal(np.log(40.0), 0.8, n_tickers)
    log_returns = _regime_returns(rng, n_days, n_tickers)
    close = start_price * np.exp(np.cumsum(log_returns, axis=0))
    gap = rng.normal(0.0, 0.004, (n_days, n_tickers))
    open_ = np.vstack([start_price, close[:-1]]) * np.exp(gap)
    wick = np.abs(rng.normal(0.0, 0.006, (2, n_days, n_tickers)))
    high = np.maximum(open_, close) * np.exp(wick[0])
    low = np.minimum(open_, close) * np.exp(-wick[1])
    volume = np.round(rng.lognormal(np.log(1e6), 0.6, (n_days, n_tickers)))
    fields = {"open": open_, "high": high, "low": low, "close": close, "volume": volume}
    if gaps:
        missing = _gap_mask(rng, n_days, n_tickers)
        for values in fields.values():
            values[missing] = np.nan
    return Panel(dates, ticker_names(n_tickers), **fields)
