"""The fused kernel gives the reference engine's bits: by hand, on random panels with gaps,
on the test panels and the seed-sized one; the C yardstick gives the same bits too."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from perfopt.backtest.c_loop import CLoopUnavailable, build_c_loop, check_same, same_bits
from perfopt.backtest.fused import BLOCK, backtest_kernel
from perfopt.backtest.kernels import rsi_kernel, simulate_kernel
from perfopt.backtest.reference import rsi_reference, simulate_reference
from perfopt.data import generate_panel, open_store

NAN = math.nan


def reference(close, period, oversold, overbought, fee, cash):
    return simulate_reference(close, rsi_reference(close, period), oversold, overbought, fee, cash)


def two_kernels(close, period, oversold, overbought, fee, cash):
    return simulate_kernel(close, rsi_kernel(close, period), oversold, overbought, fee, cash)


def fused_growing(close, period, oversold, overbought, fee, cash):
    # capacity 1: the trade buffers start at one row per ticker and grow on demand
    return backtest_kernel(close, period, oversold, overbought, fee, cash, 1)


RUNS = [reference, two_kernels, backtest_kernel, fused_growing]


@pytest.fixture(scope="module")
def c_loop():
    try:
        return build_c_loop()
    except CLoopUnavailable as exc:
        pytest.skip(str(exc))


@pytest.mark.parametrize("run", RUNS)
def test_one_round_trip_by_hand(run):
    # period 2: RSI at rows 2..5 is 0 (buy at 8), 50, 75 (sell at 10), then still > 70.
    close = np.array([[10.0], [9.0], [8.0], [9.0], [10.0], [11.0]])
    equity, final, col, entry, entry_px, exit_, exit_px, shares, cost = run(
        close, 2, 30.0, 70.0, 0.001, 1000.0
    )
    bought = 1000.0 / (8.0 * 1.001)
    sold = bought * 10.0 * 0.999
    np.testing.assert_array_equal(equity, [1000, 1000, 0.0 + bought * 8, bought * 9, sold, sold])
    assert list(col) == [0] and list(entry) == [2] and list(exit_) == [4]
    assert list(entry_px) == [8.0] and list(exit_px) == [10.0]
    assert list(shares) == [bought] and list(cost) == [1000.0] and list(final) == [sold]


@pytest.mark.parametrize("run", RUNS)
def test_gaps_carry_state_and_open_positions_mark_at_last_close(run):
    close = np.array([[10.0, 5.0], [9.0, NAN], [NAN, 6.0], [8.0, 7.0], [NAN, 8.0], [7.0, NAN]])
    equity, final, col, entry, entry_px, exit_, exit_px, shares, cost = run(
        close, 2, 30.0, 70.0, 0.0, 800.0
    )
    # ticker 0 falls through the gap: RSI 0 at row 3, a buy at 8 that stays open
    assert list(col) == [0] and list(entry) == [3] and list(exit_) == [-1]
    assert math.isnan(exit_px[0])
    np.testing.assert_array_equal(equity, [1600, 1600, 1600, 1600, 1600, 800 + 100 * 7.0])


@pytest.mark.parametrize("n_dates", [1, BLOCK - 1, BLOCK, BLOCK + 1, 3 * BLOCK + 5])
def test_every_date_gets_its_equity_whatever_the_block(n_dates):
    rng = np.random.default_rng(n_dates)
    close = 50 * np.exp(np.cumsum(rng.normal(0, 0.05, (n_dates, 7)), axis=0))
    got = backtest_kernel(close, 3, 30.0, 70.0, 0.001, 100.0)
    check_same(got, reference(close, 3, 30.0, 70.0, 0.001, 100.0), f"{n_dates} dates")


def test_buffers_grow_past_many_round_trips():
    # a zig-zag makes every ticker buy and sell every other date: far more trades than the
    # first buffer holds, so the kernel stops, grows its buffers and resumes many times
    close = np.tile(np.array([[10.0], [5.0], [20.0]]), (200, 30))
    close[:, ::2] *= 1.5
    got = backtest_kernel(close, 2, 40.0, 60.0, 0.001, 10.0)
    assert len(got[2]) > 4 * close.shape[1]
    check_same(got, reference(close, 2, 40.0, 60.0, 0.001, 10.0), "zig-zag")
    check_same(fused_growing(close, 2, 40.0, 60.0, 0.001, 10.0), got, "capacity 1")


prices = st.one_of(st.floats(0.5, 500.0), st.sampled_from([1.0, 2.0, 2.5]), st.just(NAN))


@settings(max_examples=60, deadline=None)
@given(
    arrays(np.float64, st.tuples(st.integers(1, 40), st.integers(1, 6)), elements=prices),
    st.integers(2, 6),
    st.floats(0.0, 60.0),
    st.floats(0.0, 40.0),
    st.sampled_from([0.0, 0.001, 0.01]),
)
def test_random_panels_give_the_reference_bits(close, period, oversold, width, fee):
    overbought = min(oversold + width + 1e-9, 100.0)
    want = reference(close, period, oversold, overbought, fee, 1000.0)
    check_same(backtest_kernel(close, period, oversold, overbought, fee, 1000.0), want, "fused")
    check_same(fused_growing(close, period, oversold, overbought, fee, 1000.0), want, "growing")
    check_same(two_kernels(close, period, oversold, overbought, fee, 1000.0), want, "two kernels")


@pytest.mark.parametrize("fixture", ["small_data", "gappy_data"])
def test_test_panels_give_the_reference_bits(request, fixture):
    close = open_store(request.getfixturevalue(fixture), "hdf5").load("close")
    want = reference(close, 14, 30.0, 70.0, 0.001, 25_000.0)
    assert len(want[2]) > 10
    check_same(backtest_kernel(close, 14, 30.0, 70.0, 0.001, 25_000.0), want, fixture)


@pytest.fixture(scope="module")
def seed_close() -> np.ndarray:
    """The seed's 500 x 756 panel (seed 7), the size every figure is quoted at."""
    return generate_panel(500, n_days=756, seed=7).close


def test_seed_panel_gives_the_reference_bits(seed_close):
    want = reference(seed_close, 14, 30.0, 70.0, 0.001, 2000.0)
    check_same(backtest_kernel(seed_close, 14, 30.0, 70.0, 0.001, 2000.0), want, "fused")
    check_same(two_kernels(seed_close, 14, 30.0, 70.0, 0.001, 2000.0), want, "two kernels")


@pytest.mark.parametrize("kind", ["plain", "fused"])
def test_c_loop_gives_the_same_bits(c_loop, seed_close, gappy_data, kind):
    gappy = open_store(gappy_data, "hdf5").load("close")
    for close in (seed_close, gappy):
        want = backtest_kernel(close, 14, 30.0, 70.0, 0.001, 2000.0)
        check_same(c_loop.run(kind, close, 14, 30.0, 70.0, 0.001, 2000.0), want, f"C {kind}")


def test_same_bits_tells_signed_zeros_apart_and_nans_alike():
    assert same_bits(np.array([NAN, 1.0]), np.array([NAN, 1.0]))
    assert not same_bits(np.array([0.0]), np.array([-0.0]))
    assert not same_bits(np.array([1.0]), np.array([1.0 + 2**-52]))
    assert not same_bits(np.array([1], dtype=np.int64), np.array([1.0]))
