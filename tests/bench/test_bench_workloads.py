"""pytest-benchmark: one small run of each other workload (optimize, train, selfplay).

Each runs through its harness Workload (prepare untimed, one warm-up round, then run
timed), so the benchmark measures what a matrix cell measures, at CI-friendly sizes big
enough that the work, not the run's fixed set-up, makes the figure: bench_workload checks
the benchmark's median against the workload's own timer.
"""

from __future__ import annotations

import statistics
import tempfile
from pathlib import Path

import pytest

from perfopt.optimize.workload import OptimizeWorkload
from perfopt.selfplay.workload import SelfplayWorkload
from perfopt.train.workload import TrainWorkload

WARMUP = 1  # imports, numba's cache load, torch's first steps: never in the figure
MARGIN = 2.0  # the figure may hold set-up, but never as much as the work it measures


def bench_workload(benchmark, workload, params, cache: Path, rounds: int = 3):
    """Benchmark workload.run after a warm-up round; check the figure against the
    workload's own timer (Measurement.seconds), median against median."""
    full = {**workload.defaults, **params}
    assert workload.skip_reason(full) is None
    workload.prepare(full, cache)
    own: list[float] = []

    def run():
        with tempfile.TemporaryDirectory() as workdir:
            m = workload.run(full, cache, Path(workdir))
        own.append(m.seconds)
        return m

    m = benchmark.pedantic(run, rounds=rounds, warmup_rounds=WARMUP)
    figure = benchmark.stats.stats.median
    work = statistics.median(own[WARMUP:])
    assert len(own) == WARMUP + rounds
    benchmark.extra_info["own_timer_median_s"] = work
    benchmark.extra_info["median_over_own_timer"] = figure / work
    assert work <= figure * 1.05, f"the workload timed {work:.3f} s inside a {figure:.3f} s call"
    assert figure <= MARGIN * work, (
        f"{workload.name}: the benchmark's median {figure:.3f} s is more than {MARGIN}x the "
        f"workload's own {work:.3f} s: it measures set-up, not the work"
    )
    return m


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
    # a run's fixed cost (model, file, a gc.collect leak check) is ~0.2 s here: the epochs
    # must outweigh it (chunk: ~0.4 s for 8192 samples; per-sample: ~0.7 s for 2048)
    samples = 8192 if loader == "chunk" else 2048
    params = {"samples": samples, "seq_len": 16, "features": 4, "epochs": 1, "batch_size": 64,
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
