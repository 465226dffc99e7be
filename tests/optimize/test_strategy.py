"""Strategy arithmetic against brute-force versions, CV windows, naive == bulk."""

from __future__ import annotations

import math

import numpy as np
import pytest

from perfopt.errors import UserError
from perfopt.optimize.cv import build_windows, month_end_rows
from perfopt.optimize.strategy import (
    StrategyParams,
    forward_fill,
    monthly_returns,
    rolling_log_vol,
    select_weights,
    sharpe,
    wilder_rsi,
)


def test_forward_fill_carries_last_valid_close():
    close = np.array([[np.nan, 1.0], [2.0, np.nan], [np.nan, np.nan], [3.0, 4.0]])
    out = forward_fill(close)
    assert np.isnan(out[0, 0])
    assert out[1:, 0].tolist() == [2.0, 2.0, 3.0]
    assert out[:, 1].tolist() == [1.0, 1.0, 1.0, 4.0]


def test_rolling_log_vol_matches_numpy_std():
    rng = np.random.default_rng(0)
    close = np.exp(np.cumsum(rng.normal(0, 0.02, (60, 3)), axis=0))
    rows = np.array([5, 20, 59])
    out = rolling_log_vol(close, rows, 10)
    logret = np.diff(np.log(close), axis=0)
    assert np.isnan(out[0]).all()  # fewer than 10 returns before row 5
    for i, r in enumerate(rows[1:], start=1):
        np.testing.assert_allclose(out[i], np.std(logret[r - 10 : r], axis=0, ddof=1), rtol=1e-9)


def test_select_weights_holds_top_k_momentum():
    # Three tickers with steady growth of 3%, 2%, 1% a day; only momentum weighted.
    days = np.arange(40)
    close = np.stack([1.03**days, 1.02**days, 1.01**days], axis=1)
    rsi = np.full_like(close, 50.0)
    params = StrategyParams(lookback=5, vol_window=5, w_mom=1.0, w_vol=0.0, w_rsi=0.0, top_k=2)
    weights, _ = select_weights(close, rsi, np.array([10, 20, 30]), params)
    assert weights.shape == (2, 3)
    assert weights.tolist() == [[0.5, 0.5, 0.0], [0.5, 0.5, 0.0]]


def test_monthly_returns_subtract_fee_times_turnover():
    filled = np.array([[1.0, 1.0], [1.1, 0.9], [1.21, 0.9]])
    weights = np.array([[1.0, 0.0], [0.0, 1.0]])
    out = monthly_returns(filled, np.array([0, 1, 2]), weights, fee=0.01)
    # Month 1: +10% minus 1% of turnover 1; month 2: flat minus 1% of turnover 2.
    np.testing.assert_allclose(out, [0.1 - 0.01, 0.0 - 0.02])


def test_sharpe_is_annualized_and_undefined_when_flat():
    r = np.array([0.01, 0.03, -0.01, 0.02])
    assert sharpe(r) == pytest.approx(r.mean() / r.std(ddof=1) * math.sqrt(12))
    assert not math.isfinite(sharpe(np.zeros(5)))
    assert math.isnan(sharpe(np.array([0.1])))


def test_walk_forward_one_window_per_year_with_history():
    calendar = np.arange(np.datetime64("2020-01-01"), np.datetime64("2023-01-01"))
    calendar = calendar[np.is_busday(calendar)]
    windows = build_windows(calendar, "walk-forward", "2021-01-01", "2022-12-31")
    assert [w.label for w in windows] == ["2021", "2022"]
    assert str(calendar[windows[0].first]) == "2021-01-01"
    assert str(calendar[windows[1].last]) == "2022-12-30"
    assert windows[0].first - windows[0].span_start == 260


def test_purged_kfold_drops_embargo_months():
    calendar = np.arange(np.datetime64("2020-01-01"), np.datetime64("2023-01-01"))
    calendar = calendar[np.is_busday(calendar)]
    windows = build_windows(calendar, "purged-kfold", "2021-01-01", "2022-12-31", 3, 1)
    assert [w.label for w in windows] == ["fold1", "fold2", "fold3"]
    # 24 months in 3 folds of 8; folds 2 and 3 start one month late (the embargo).
    assert str(calendar[windows[0].first]) == "2021-01-01"
    assert str(calendar[windows[1].first]) == "2021-10-01"
    assert str(calendar[windows[2].first]) == "2022-06-01"
    ends = month_end_rows(calendar)
    assert windows[0].last in ends


def test_window_without_data_is_refused():
    calendar = np.arange(np.datetime64("2020-01-01"), np.datetime64("2021-01-01"))
    with pytest.raises(UserError, match="window 2030"):
        build_windows(calendar, "walk-forward", "2030-01-01", "2030-12-31")


def test_naive_and_bulk_access_give_the_same_value(data_dir):
    from perfopt.optimize.evaluate import WindowEvaluator
    from perfopt.profiling._timer import StageTimer

    tickers = tuple(f"S{i:04d}" for i in range(6))
    bulk = WindowEvaluator(data_dir, "sqlite", "bulk", tickers, 0.001)
    naive = WindowEvaluator(data_dir, "sqlite", "naive", tickers, 0.001)
    window = build_windows(bulk.calendar, "walk-forward", "2023-01-01", "2023-12-31")[0]
    params = StrategyParams(60, 30, 0.7, 0.2, 0.4, 3)
    timer_b, timer_n = StageTimer(), StageTimer()
    value_b, months = bulk.evaluate(window, params, timer_b)
    value_n, _ = naive.evaluate(window, params, timer_n)
    assert months == 12
    assert math.isfinite(value_b)
    assert value_n == value_b
    assert set(timer_b.as_dict()) == {"data", "signals", "returns", "metrics"}
    # The naive data stage runs one query per ticker per date: far slower than a slice.
    assert timer_n.as_dict()["data"] > timer_b.as_dict()["data"]


@pytest.mark.parametrize("period", [14, 3])
def test_wilder_rsi_equals_the_backtest_kernel_to_the_last_bit(period):
    """Gaps, late listings, delistings, flat runs, only-up and only-down tickers."""
    from perfopt.backtest.kernels import rsi_kernel

    rng = np.random.default_rng(period)
    close = 100 * np.cumprod(1 + rng.normal(0, 0.02, (300, 40)), axis=0)
    close[rng.random(close.shape) < 0.05] = np.nan
    close[:50, :5] = np.nan  # listed late
    close[200:, 35:] = np.nan  # delisted
    close[100:130, 6] = close[99, 6]  # no move at all for a month
    close[:, 7] = np.linspace(10, 20, 300)  # only gains: RSI 100
    close[:, 8] = np.linspace(20, 10, 300)  # only losses: RSI 0
    close[:, 9] = np.nan  # never traded
    for span in (close, close[123:], np.round(close, 1)):
        expected = rsi_kernel(np.ascontiguousarray(span), period)
        got = wilder_rsi(span, period)
        assert np.array_equal(got, expected, equal_nan=True)
    assert np.isnan(got[:, 9]).all() and (got[period:, 7] == 100.0).all()


def test_the_evaluator_computes_a_windows_rsi_once(data_dir):
    """Bulk: every window's RSI at build; naive: at its first trial; then reused."""
    from perfopt.optimize.evaluate import WindowEvaluator
    from perfopt.profiling._timer import StageTimer

    tickers = tuple(f"S{i:04d}" for i in range(6))
    probe = WindowEvaluator(data_dir, "sqlite", "bulk", tickers, 0.001)
    windows = build_windows(probe.calendar, "walk-forward", "2022-01-01", "2023-12-31")
    bulk = WindowEvaluator(data_dir, "sqlite", "bulk", tickers, 0.001, windows)
    naive = WindowEvaluator(data_dir, "sqlite", "naive", tickers, 0.001, windows)
    unused = np.empty((0, 0))  # a cached window never looks at the closes it is given
    for window in windows:
        kept = bulk.rsi(window, unused)
        assert kept.shape == (window.n_rows, len(tickers))
        assert np.array_equal(kept, wilder_rsi(bulk.fetch(window)), equal_nan=True)
    fresh = WindowEvaluator(data_dir, "sqlite", "naive", tickers, 0.001, windows)
    assert fresh.rsi(windows[0], unused).shape == (0, 0)  # not computed at build: naive
    params = StrategyParams(60, 30, 0.7, 0.2, 0.4, 3)
    first = [naive.evaluate(w, params, StageTimer())[0] for w in windows]
    again = [naive.evaluate(w, params, StageTimer())[0] for w in windows]
    assert first == again == [bulk.evaluate(w, params, StageTimer())[0] for w in windows]
    assert naive.rsi(windows[0], unused) is naive.rsi(windows[0], unused)
