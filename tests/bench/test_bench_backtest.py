"""pytest-benchmark: backtest kernels and end-to-end runs at CI-friendly sizes.

CI runs these for real (not --benchmark-disable) and saves --benchmark-json. Each runs
warm-up rounds first (numba's cache load, the stores' first open) and checks its median
against the backtest's own stage timer, so the figure is the work. The regression gate
on the kernels is test_bench_kernels.py (see docs/benchmarks.md).
"""

from __future__ import annotations

import statistics

import pytest

from perfopt.backtest import BacktestConfig, run_backtest
from perfopt.backtest.engine import load_kernels, simulate_close
from perfopt.backtest.kernels import rsi_kernel, simulate_kernel
from perfopt.data import generate_panel, open_store, write_panel
from perfopt.profiling import StageTimer

WARMUP = 2
MARGIN = 2.0  # figure / own timer: set-up may show, but never as much as the work


@pytest.fixture(scope="module")
def bench_data(tmp_path_factory):
    folder = tmp_path_factory.mktemp("bench_backtest")
    write_panel(generate_panel(200, n_days=504, seed=7), folder)
    return folder


def bench_against_own_timer(benchmark, run, rounds):
    """Benchmark run() (which returns its own timer's seconds) after WARMUP rounds;
    check the benchmark's median against the median of the own timer."""
    own: list[float] = []
    benchmark.pedantic(lambda: own.append(run()), rounds=rounds, warmup_rounds=WARMUP)
    figure = benchmark.stats.stats.median
    work = statistics.median(own[WARMUP:])
    assert len(own) == WARMUP + rounds
    benchmark.extra_info["own_timer_median_s"] = work
    benchmark.extra_info["median_over_own_timer"] = figure / work
    assert work <= figure * 1.05
    assert figure <= MARGIN * work, f"median {figure:.4f} s for {work:.4f} s of work: set-up"


@pytest.mark.benchmark(group="backtest-kernels")
@pytest.mark.parametrize("engine", ["numba", "reference"])
def test_signals_and_simulate(benchmark, bench_data, engine):
    kernels, _ = load_kernels(engine)
    close = open_store(bench_data, "hdf5").load("close")
    config = BacktestConfig(bench_data)
    outputs = []

    def run():
        timer = StageTimer()
        outputs.append(simulate_close(close, config, kernels, 5000.0, timer))
        return sum(timer.as_dict().values())

    bench_against_own_timer(benchmark, run, rounds=5 if engine == "reference" else 30)
    assert outputs[-1][0].shape == (504,)


@pytest.mark.benchmark(group="backtest-kernels")
def test_two_kernel_path(benchmark, bench_data):
    # the former numba engine (rsi_kernel + simulate_kernel), kept as the fused kernel's
    # yardstick; a bare kernel call has no inner timer to check against
    close = open_store(bench_data, "hdf5").load("close")

    def run():
        return simulate_kernel(close, rsi_kernel(close, 14), 30.0, 70.0, 0.001, 5000.0)

    out = benchmark.pedantic(run, rounds=30, warmup_rounds=WARMUP)
    assert out[0].shape == (504,)


@pytest.mark.benchmark(group="backtest-end-to-end")
@pytest.mark.parametrize("source", ["hdf5", "parquet", "sqlite"])
def test_end_to_end(benchmark, bench_data, source):
    config = BacktestConfig(bench_data, source=source)
    trades = []

    def run():
        result = run_backtest(config)
        trades.append(result.metrics["n_trades"])
        return result.stages["total"]

    bench_against_own_timer(benchmark, run, rounds=5)
    assert trades[-1] > 0


@pytest.mark.benchmark(group="backtest-access")
def test_naive_sqlite_reference(benchmark, bench_data):
    tickers = tuple(f"S{i:04d}" for i in range(20))
    config = BacktestConfig(
        bench_data, source="sqlite", access="naive", engine="reference", tickers=tickers
    )
    loads = []

    def run():
        result = run_backtest(config)
        loads.append(result.stages["load"])
        return result.stages["total"]

    bench_against_own_timer(benchmark, run, rounds=2)
    assert loads[-1] > 0
