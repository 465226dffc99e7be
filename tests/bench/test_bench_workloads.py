"""pytest-benchmark: one small run of each other workload (optimize, train, selfplay).

Each runs through its harness Workload (prepare untimed, run timed), so the benchmark
measures exactly what a matrix cell measures, at CI-friendly sizes.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest

from perfopt.optimize.workload import OptimizeWorkload
from perfopt.selfplay.workload import SelfplayWorkload
from perfopt.train.workload import TrainWorkload


def bench_workload(benchmark, workload, params, cache: Path, rounds: int = 2):
    full = {**workload.defaults, **params}
    assert workload.skip_reason(full) is None
    workload.prepare(full, cache)

    def run():
        with tempfile.TemporaryDirectory() as workdir:
            return workload.run(full, cache, Path(workdir))

    return benchmark.pedantic(run, rounds=rounds, warmup_rounds=0)


@pytest.mark.benchmark(group="optimize")
@pytest.mark.parametrize("access", ["bulk", "naive"])
def test_optimize_study(benchmark, tmp_path_factory, access):
    cache = tmp_path_factory.getbasetemp() / "bench-optimize"
    params = {"tickers": 10, "n_trials": 3 if access == "bulk" else 1, "n_jobs": 1,
              "storage": "journal", "access": access}  # fmt: skip
    m = bench_workload(benchmark, OptimizeWorkload(), params, cache)
    assert m.metrics["trials_per_s"] > 0
    assert (m.metrics["io_ratio"] > 0.5) == (access == "naive")


@pytest.mark.benchmark(group="train")
@pytest.mark.parametrize("loader", ["per-sample", "chunk"])
def test_train_epoch(benchmark, tmp_path_factory, loader):
    pytest.importorskip("torch")
    cache = tmp_path_factory.getbasetemp() / "bench-train"
    params = {"samples": 256, "seq_len": 16, "features": 4, "epochs": 1, "batch_size": 64,
              "loader": loader, "device": "cpu"}  # fmt: skip
    m = bench_workload(benchmark, TrainWorkload(), params, cache)
    assert m.metrics["samples_per_s"] > 0


@pytest.mark.benchmark(group="selfplay")
@pytest.mark.parametrize("batch", [1, 8])
def test_selfplay_games(benchmark, tmp_path_factory, batch):
    pytest.importorskip("torch")
    cache = tmp_path_factory.getbasetemp() / "bench-selfplay"
    params = {"games": 2, "simulations": 8, "mcts_batch_size": batch, "start_method": "fork"}
    m = bench_workload(benchmark, SelfplayWorkload(), params, cache)
    assert m.metrics["games_per_s"] > 0
