"""The kernels' regression gate: pytest-benchmark figures of the numba kernels that
perfopt runs (the fused kernel; rsi_kernel, the optimizer's) at the seed's size (500
tickers x 756 dates), and the fused kernel against the C loop.

The two-kernel path is not gated: it is only a yardstick now, and its 10 MB of trade
buffers per call make its time depend on the allocator's state (its fastest round read
2.8 ms in one process and 3.9 ms in another); test_bench_backtest.py keeps its figure.

CI runs this file a second time against the baseline committed in
benchmarks/baseline/kernels-<cpu class>.json (`--benchmark-compare-fail`, see docs/benchmarks.md);
in the main suite it runs like any benchmark. The ratio test needs no baseline: the C
loop and the fused kernel run interleaved in this process, so load slows both alike.
"""

from __future__ import annotations

import numpy as np
import pytest

from perfopt.backtest.c_loop import CLoopUnavailable, build_c_loop
from perfopt.backtest.fused import backtest_kernel
from perfopt.backtest.kernel_race import STRATEGY, race
from perfopt.backtest.kernels import rsi_kernel
from perfopt.data import generate_panel

PERIOD, OVERSOLD, OVERBOUGHT, FEE = STRATEGY
CASH = 2000.0
# The target for the fused kernel, against the faster C loop on the same machine.
C_LOOP_TARGET = 1.5


@pytest.fixture(scope="module")
def close() -> np.ndarray:
    """The seed's panel: 500 tickers x 756 dates, seed 7 (0.1 s to generate)."""
    return generate_panel(500, n_days=756, seed=7).close


@pytest.mark.benchmark(group="kernels")
def test_fused_kernel(benchmark, close):
    out = benchmark.pedantic(
        backtest_kernel,
        args=(close, PERIOD, OVERSOLD, OVERBOUGHT, FEE, CASH),
        rounds=150,
        warmup_rounds=15,
    )
    assert out[0].shape == (756,) and len(out[2]) > 500


@pytest.mark.benchmark(group="kernels")
def test_rsi_kernel(benchmark, close):
    # the optimizer's objective calls rsi_kernel on every window
    rsi = benchmark.pedantic(rsi_kernel, args=(close, PERIOD), rounds=60, warmup_rounds=6)
    assert rsi.shape == close.shape


def test_fused_kernel_within_target_of_the_c_loop(close):
    try:
        build_c_loop()
    except CLoopUnavailable as exc:
        pytest.skip(str(exc))
    result = race(close, rounds=30, warmup=3)
    best = result.c_best()
    ratio, q1, q3 = result.ratio("fused", best)
    print("\n" + result.table())
    assert ratio <= C_LOOP_TARGET, (
        f"the fused kernel took {ratio:.2f}x the C loop ({best}; quartiles {q1:.2f}-{q3:.2f}), "
        f"above the {C_LOOP_TARGET}x target:\n{result.table()}"
    )
    two, _, _ = result.ratio("two-kernel", "fused")
    assert two > 1.0, "the fused kernel must beat the two-kernel path it replaces"
