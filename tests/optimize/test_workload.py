"""The harness workload's new axes: timeframe_pair (intraday studies) and executor."""

from __future__ import annotations

import math

import pytest

from perfopt.optimize import workload as wl
from perfopt.optimize.workload import OptimizeWorkload

METRICS = {"trials_per_s", "mean_trial_s", "p50_trial_s", "p90_trial_s", "io_ratio",
           "storage_s_per_trial", "dispatch_s_per_trial"}  # fmt: skip


def test_axes_and_skip_reasons():
    w = OptimizeWorkload()
    assert "1m@15m" in w.axes["timeframe_pair"] and w.defaults["timeframe_pair"] == "none"
    assert w.axes["executor"] == ["local", "dask"] and w.defaults["executor"] == "local"
    assert "mode must be trial" in w.skip_reason({"executor": "dask", "mode": "thread"})
    assert "shared storage" in w.skip_reason({"executor": "dask", "storage": "memory"})
    assert "one backtest" in w.skip_reason(
        {"timeframe_pair": "1m@1h", "mode": "backtest", "n_jobs": 1}
    )
    assert "naive" in w.skip_reason({"timeframe_pair": "1m@1h", "access": "naive"})
    assert w.skip_reason({"timeframe_pair": "1m@1h", "executor": "dask"}) is None


@pytest.fixture
def small_intraday(monkeypatch):
    monkeypatch.setattr(wl, "INTRADAY_DAYS", 3)  # keep the generated bars small


@pytest.mark.parametrize(
    "params",
    [
        {"timeframe_pair": "1m@15m", "n_jobs": 2, "n_trials": 6},
        {"timeframe_pair": "5m@1h", "executor": "dask", "n_jobs": 2, "n_trials": 6},
    ],
    ids=["pair-local", "pair-dask"],
)
def test_intraday_cells_run_and_report_the_metrics(small_intraday, tmp_path, params):
    w = OptimizeWorkload()
    cache, work = tmp_path / "cache", tmp_path / "work"
    w.prepare(params, cache)
    w.prepare(params, cache)  # idempotent
    assert (wl.intraday_data_dir(cache) / "intraday" / "BTCUSDT_1min.parquet").is_file()
    m = w.run(params, cache, work)
    assert m.metrics["complete"] == 6
    assert set(m.metrics) >= METRICS
    assert m.metrics["trials_per_s"] > 0 and m.metrics["mean_trial_s"] > 0
    # the parts, not their sum: the report's stage bars add up
    assert set(m.stages) >= {"data", "signals", "returns", "metrics"} and "total" not in m.stages
    assert m.info["task"] == f"BTCUSDT {params['timeframe_pair']}"
    if params.get("executor") == "dask":
        assert m.info["dask"]["workers"] == 2
        assert m.metrics["dispatch_s_per_trial"] > 0
    else:
        assert math.isnan(m.metrics["dispatch_s_per_trial"])
        assert len(m.info["workers"]) == 2
