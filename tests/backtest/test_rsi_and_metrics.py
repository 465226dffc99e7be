from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from perfopt.backtest.kernels import rsi_kernel, simulate_kernel
from perfopt.backtest.metrics import compute_metrics
from perfopt.backtest.reference import rsi_reference, simulate_reference

NAN = math.nan
RSI_FUNCTIONS = [rsi_reference, rsi_kernel]


@pytest.mark.parametrize("rsi", RSI_FUNCTIONS)
def test_rsi_hand_checked_values(rsi):
    # deltas +1 +1 -1 +1 with period 2: averages (1, 0) -> 100; (0.5, 0.5) -> 50;
    # (0.75, 0.25) -> 100 - 100 / 4 = 75.
    close = np.array([[1.0], [2.0], [3.0], [2.0], [3.0]])
    np.testing.assert_array_equal(rsi(close, 2)[:, 0], [NAN, NAN, 100.0, 50.0, 75.0])


@pytest.mark.parametrize("rsi", RSI_FUNCTIONS)
def test_rsi_skips_missing_bars_and_carries_state(rsi):
    close = np.array([[1.0], [2.0], [NAN], [3.0], [2.0], [3.0]])
    np.testing.assert_array_equal(rsi(close, 2)[:, 0], [NAN, NAN, NAN, 100.0, 50.0, 75.0])


@pytest.mark.parametrize("rsi", RSI_FUNCTIONS)
def test_constant_prices_give_50(rsi):
    values = rsi(np.full((30, 2), 7.5), 14)
    assert np.all(np.isnan(values[:14]))
    assert np.all(values[14:] == 50.0)


@settings(max_examples=40, deadline=None)
@given(
    arrays(np.float64, st.tuples(st.integers(2, 60), st.integers(1, 4)),
           elements=st.one_of(st.floats(0.5, 500.0), st.just(NAN))),
    st.integers(2, 20),
)
def test_rsi_is_within_bounds_and_engines_agree(close, period):
    fast = rsi_kernel(close, period)
    slow = rsi_reference(close, period)
    np.testing.assert_array_equal(fast, slow)
    defined = fast[~np.isnan(fast)]
    assert np.all((defined >= 0.0) & (defined <= 100.0))
    assert not np.any(~np.isnan(fast) & np.isnan(close)), "no signal on a missing bar"


@pytest.mark.parametrize("simulate", [simulate_reference, simulate_kernel])
def test_one_round_trip_by_hand(simulate):
    # period 2: RSI at rows 2..5 is 0 (buy at 8), 50, 75 (sell at 10), then still > 70.
    close = np.array([[10.0], [9.0], [8.0], [9.0], [10.0], [11.0]])
    rsi = rsi_reference(close, 2)
    equity, final, col, entry, entry_px, exit_, exit_px, shares, cost = simulate(
        close, rsi, 30.0, 70.0, 0.001, 1000.0
    )
    bought = 1000.0 / (8.0 * 1.001)
    sold = bought * 10.0 * 0.999
    np.testing.assert_allclose(equity, [1000, 1000, bought * 8, bought * 9, sold, sold], rtol=1e-12)
    assert list(entry) == [2] and list(exit_) == [4]
    assert list(entry_px) == [8.0] and list(exit_px) == [10.0]
    np.testing.assert_allclose(shares, [bought])
    np.testing.assert_allclose(final, [sold])


@pytest.mark.parametrize("simulate", [simulate_reference, simulate_kernel])
def test_open_position_is_marked_at_last_close_through_a_gap(simulate):
    close = np.array([[10.0], [9.0], [8.0], [NAN], [7.0], [NAN]])
    rsi = rsi_reference(close, 2)
    equity, final, col, entry, entry_px, exit_, exit_px, shares, cost = simulate(
        close, rsi, 30.0, 70.0, 0.0, 800.0
    )
    assert list(exit_) == [-1] and math.isnan(exit_px[0])
    np.testing.assert_allclose(equity, [800, 800, 800, 800, 700, 700])


def test_metrics_by_hand():
    metrics = compute_metrics(np.array([100.0, 110.0, 99.0, 108.9]), 3, np.array([5.0, -1.0]))
    assert metrics["total_return"] == pytest.approx(0.089)
    assert metrics["annual_return"] == pytest.approx(1.089 ** (252 / 3) - 1)
    # returns 0.1, -0.1, 0.1: mean 1/30, sample std sqrt(2/150)
    assert metrics["sharpe"] == pytest.approx((1 / 30) / math.sqrt(2 / 150) * math.sqrt(252))
    assert metrics["annual_vol"] == pytest.approx(math.sqrt(2 / 150) * math.sqrt(252))
    assert metrics["max_drawdown"] == pytest.approx(99 / 110 - 1)
    assert metrics["n_trades"] == 3
    assert metrics["win_rate"] == pytest.approx(0.5)


def test_flat_equity_has_nan_sharpe_and_no_win_rate():
    metrics = compute_metrics(np.full(10, 5.0), 0, np.array([]))
    assert math.isnan(metrics["sharpe"])
    assert math.isnan(metrics["win_rate"])
    assert metrics["max_drawdown"] == 0.0
