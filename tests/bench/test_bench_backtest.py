"""pytest-benchmark: backtest kernels and end-to-end runs at CI-friendly sizes.

CI runs these for real (not --benchmark-disable) and saves --benchmark-json. Compare two
runs on one machine with --benchmark-save / --benchmark-compare (see README).
"""

from __future__ import annotations

import pytest

from perfopt.backtest import BacktestConfig, run_backtest
from perfopt.backtest.engine import load_kernels
from perfopt.data import generate_panel, open_store, write_panel


@pytest.fixture(scope="module")
def bench_data(tmp_path_factory):
    folder = tmp_path_factory.mktemp("bench_backtest")
    write_panel(generate_panel(200, n_days=504, seed=7), folder)
    return folder


@pytest.mark.benchmark(group="backtest-kernels")
@pytest.mark.parametrize("engine", ["numba", "reference"])
def test_signals_and_simulate(benchmark, bench_data, engine):
    kernels, _ = load_kernels(engine)
    close = open_store(bench_data, "hdf5").load("close")

    def run():
        rsi = kernels.rsi(close, 14)
        return kernels.simulate(close, rsi, 30.0, 70.0, 0.001, 5000.0)

    equity = benchmark.pedantic(run, rounds=5 if engine == "reference" else 30, warmup_rounds=1)[0]
    assert equity.shape == (504,)


@pytest.mark.benchmark(group="backtest-end-to-end")
@pytest.mark.parametrize("source", ["hdf5", "parquet", "sqlite"])
def test_end_to_end(benchmark, bench_data, source):
    config = BacktestConfig(bench_data, source=source)
    result = benchmark.pedantic(run_backtest, args=(config,), rounds=5, warmup_rounds=1)
    assert result.metrics["n_trades"] > 0


@pytest.mark.benchmark(group="backtest-access")
def test_naive_sqlite_reference(benchmark, bench_data):
    config = BacktestConfig(bench_data, source="sqlite", access="naive", engine="reference", tickers=tuple(f"S{i:04d}" for i in range(20)))
    result = benchmark.pedantic(run_backtest, args=(config,), rounds=2)
    assert result.stages["load"] > 0
