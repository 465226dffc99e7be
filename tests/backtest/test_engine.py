from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import replace

import numpy as np
import pytest

from perfopt.backtest import BacktestConfig, run_backtest


def assert_same_result(a, b):
    np.testing.assert_allclose(a.equity, b.equity, rtol=1e-9, atol=0)
    np.testing.assert_allclose(a.sleeve_final, b.sleeve_final, rtol=1e-9, atol=0)
    assert len(a.trades) == len(b.trades)
    ta, tb = a.trades_frame(), b.trades_frame()
    assert ta[["ticker", "entry_date", "exit_date"]].equals(tb[["ticker", "entry_date", "exit_date"]])
    np.testing.assert_allclose(ta["shares"], tb["shares"], rtol=1e-9)
    np.testing.assert_allclose(ta["pnl"], tb["pnl"], rtol=1e-9, equal_nan=True)
    assert a.metrics["n_trades"] == b.metrics["n_trades"]


@pytest.mark.parametrize("fixture", ["small_data", "gappy_data"])
def test_engines_agree(request, fixture):
    data = request.getfixturevalue(fixture)
    numba = run_backtest(BacktestConfig(data, engine="numba"))
    reference = run_backtest(BacktestConfig(data, engine="reference"))
    assert numba.metrics["n_trades"] > 10, "the synthetic data must make the strategy trade"
    assert (reference.trades.exit >= 0).any() and (reference.trades.exit < 0).any()
    assert_same_result(numba, reference)


@pytest.mark.parametrize("source", ["sqlite", "parquet"])
def test_sources_agree(gappy_data, source):
    base = run_backtest(BacktestConfig(gappy_data, source="hdf5"))
    assert_same_result(run_backtest(BacktestConfig(gappy_data, source=source)), base)


def test_naive_reference_from_sqlite_is_the_same_backtest(gappy_data):
    legacy = run_backtest(BacktestConfig(gappy_data, source="sqlite", access="naive", engine="reference"))
    fast = run_backtest(BacktestConfig(gappy_data, source="hdf5", access="bulk", engine="numba"))
    assert_same_result(legacy, fast)
    assert set(legacy.stages) >= {"load", "signals", "simulate", "metrics", "total"}


def test_ticker_subset_uses_its_own_sleeves(small_data):
    result = run_backtest(BacktestConfig(small_data, tickers=("S0003", "S0001")))
    assert result.tickers == ("S0003", "S0001")
    assert result.equity[0] == pytest.approx(1_000_000.0)
    assert set(result.trades_frame()["ticker"]) <= {"S0001", "S0003"}


@pytest.mark.slow
@pytest.mark.parametrize("method", ["fork", "forkserver", "spawn"])
def test_sharded_equals_unsharded(gappy_data, method):
    base = run_backtest(BacktestConfig(gappy_data, engine="numba"))
    for workers in (1, 2, 3):
        cfg = BacktestConfig(gappy_data, engine="numba", workers=workers, start_method=method)
        sharded = run_backtest(cfg)
        assert_same_result(sharded, base)
        assert sharded.metrics == pytest.approx(base.metrics, nan_ok=True)
        if workers > 1:
            assert len(set(sharded.info["worker_pids"])) == workers
            assert os.getpid() not in sharded.info["worker_pids"]


def test_sharded_reference_engine_equals_numba(gappy_data):
    base = run_backtest(BacktestConfig(gappy_data, engine="numba"))
    sharded = run_backtest(BacktestConfig(gappy_data, engine="reference", workers=2, start_method="fork"))
    assert_same_result(sharded, base)


def test_spawned_workers_find_relative_data_from_another_directory(gappy_data, tmp_path):
    # The seed's phase-4 bug: a relative data path resolved in a spawned worker.
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    relative = os.path.relpath(gappy_data, elsewhere)
    script = (
        "import json, sys\n"
        "from perfopt.backtest import BacktestConfig, run_backtest\n"
        f"r = run_backtest(BacktestConfig({relative!r}, workers=2, start_method='spawn'))\n"
        "print(json.dumps(r.equity.tolist()))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", script], cwd=elsewhere, capture_output=True, text=True, check=True
    )
    import json

    base = run_backtest(BacktestConfig(gappy_data))
    np.testing.assert_allclose(json.loads(out.stdout), base.equity, rtol=1e-9)


def test_backtest_writes_nothing_into_the_data_folder(gappy_data):
    before = {p.name: p.stat().st_mtime_ns for p in gappy_data.iterdir()}
    for source in ("sqlite", "parquet", "hdf5"):
        run_backtest(replace(BacktestConfig(gappy_data), source=source))
    run_backtest(BacktestConfig(gappy_data, source="sqlite", access="naive", engine="reference"))
    after = {p.name: p.stat().st_mtime_ns for p in gappy_data.iterdir()}
    assert after == before
