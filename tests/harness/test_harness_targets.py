"""Target verdicts on hand-built results: PASS, FAIL, NOT APPLICABLE and the core bound."""

from __future__ import annotations

from typing import Any

from perfopt.harness import evaluate_all
from perfopt.harness.targets import FAIL, NA, PASS, TARGETS, evaluate

N = 0


def cell(
    workload: str,
    params: dict[str, Any],
    seconds: float,
    cores: int = 2,
    status: str = "ok",
    info: dict[str, Any] | None = None,
    **metrics: float,
) -> dict[str, Any]:
    global N
    N += 1
    return {
        "schema": 2,
        "kind": "cell",
        "cell_id": f"{workload}-{N:04d}",
        "label": " ".join(f"{k}={v}" for k, v in sorted(params.items())),
        "workload": workload,
        "params": params,
        "status": status,
        "timing": {"n": 1, "median_s": seconds},
        "measurement": {"seconds": seconds, "stages": {}, "metrics": metrics, "info": info or {}},
        "environment": {"cores_available": cores, "cores_logical": cores},
    }


def target(tid: str):
    return next(t for t in TARGETS if t.id == tid)


def test_targets_are_declared_with_sources() -> None:
    ids = [t.id for t in TARGETS]
    assert ids == [
        "backtest-180s",
        "trial-parallel-2-3x",
        "selfplay-parallel-2-3x",
        "chunk-loader-59.9",
        "amp-2-3x",
    ]
    assert all(t.source.endswith(".txt") and t.claim for t in TARGETS)


def test_backtest_180s_pass_and_fail_name_fastest_and_naive_cell() -> None:
    full = {"tickers": 500, "days": 756}
    fast = cell("backtest", {**full, "engine": "numba", "source": "hdf5", "access": "bulk"}, 0.9)
    naive = cell(
        "backtest", {**full, "engine": "reference", "source": "sqlite", "access": "naive"}, 14.0
    )
    small = cell("backtest", {"tickers": 50, "days": 756, "engine": "reference"}, 0.01)
    v = evaluate(target("backtest-180s"), [fast, naive, small])
    assert v["verdict"] == PASS
    assert v["cells"] == sorted([fast["cell_id"], naive["cell_id"]])  # not the small panel
    assert "0.900 s" in v["reason"] and "14.000 s" in v["reason"]
    slow = cell(
        "backtest", {**full, "engine": "reference", "source": "sqlite", "access": "naive"}, 345.76
    )
    v = evaluate(target("backtest-180s"), [slow])
    assert v["verdict"] == FAIL and ">= 180 s" in v["reason"]
    assert evaluate(target("backtest-180s"), [small])["verdict"] == NA


def test_trial_parallel_on_two_cores_is_not_applicable_with_bound() -> None:
    base = {"storage": "sqlite", "mode": "trial", "n_trials": 20}
    one = cell("optimize", {**base, "n_jobs": 1}, 10.0, trials_per_s=2.0)
    two = cell("optimize", {**base, "n_jobs": 2}, 6.0, trials_per_s=3.3)
    journal = cell("optimize", {**base, "storage": "journal", "n_jobs": 2}, 1.0, trials_per_s=30.0)
    v = evaluate(target("trial-parallel-2-3x"), [one, two, journal])
    assert v["verdict"] == NA
    assert v["bound"] == 2.0
    assert abs(v["efficiency"] - 1.65 / 2.0) < 1e-9
    assert "machine has 2 cores: the best possible speedup with 2 workers is 2.0x" in v["reason"]
    assert "1.65x" in v["measured"]
    assert v["cells"] == sorted([one["cell_id"], two["cell_id"]])


def test_a_speedup_above_the_core_bound_is_not_evidence() -> None:
    base = {"storage": "sqlite", "mode": "trial"}
    one = cell("optimize", {**base, "n_jobs": 1}, 10.0, trials_per_s=2.0)
    two = cell("optimize", {**base, "n_jobs": 2}, 4.0, trials_per_s=4.6)
    v = evaluate(target("trial-parallel-2-3x"), [one, two])
    assert v["verdict"] == NA
    assert "2.30x is above that bound" in v["reason"] and "--repeats 3" in v["reason"]


def test_trial_parallel_pass_and_fail_on_four_cores() -> None:
    base = {"storage": "sqlite", "mode": "trial"}
    one = cell("optimize", {**base, "n_jobs": 1}, 10.0, cores=4, trials_per_s=2.0)
    four = cell("optimize", {**base, "n_jobs": 4}, 4.0, cores=4, trials_per_s=5.0)
    v = evaluate(target("trial-parallel-2-3x"), [one, four])
    assert v["verdict"] == PASS and v["bound"] == 4.0
    weak = cell("optimize", {**base, "n_jobs": 4}, 8.0, cores=4, trials_per_s=2.5)
    assert evaluate(target("trial-parallel-2-3x"), [one, weak])["verdict"] == FAIL


def test_trial_parallel_without_pairs_is_not_applicable() -> None:
    lonely = cell(
        "optimize", {"storage": "sqlite", "mode": "trial", "n_jobs": 2}, 1.0, trials_per_s=1.0
    )
    v = evaluate(target("trial-parallel-2-3x"), [lonely])
    assert v["verdict"] == NA and "no comparable ok optimize cells" in v["reason"]


def test_selfplay_has_two_parts() -> None:
    serial8 = cell(
        "selfplay", {"parallel": "serial", "workers": 1, "mcts_batch_size": 8}, 10, games_per_s=1.0
    )
    proc8 = cell(
        "selfplay", {"parallel": "process", "workers": 2, "mcts_batch_size": 8}, 6, games_per_s=1.7
    )
    serial32 = cell(
        "selfplay", {"parallel": "serial", "workers": 1, "mcts_batch_size": 32}, 6, games_per_s=1.6
    )
    v = evaluate(target("selfplay-parallel-2-3x"), [serial8, proc8, serial32])
    verdicts = {p["label"]: p["verdict"] for p in v["parts"]}
    assert verdicts == {"parallel vs serial": NA, "batch 32 vs 8": PASS}
    assert v["verdict"] == NA
    slow32 = cell(
        "selfplay", {"parallel": "serial", "workers": 1, "mcts_batch_size": 32}, 9, games_per_s=1.1
    )
    assert evaluate(target("selfplay-parallel-2-3x"), [serial8, proc8, slow32])["verdict"] == FAIL


def test_chunk_loader_reduction() -> None:
    common = {"amp": False, "batch_size": 128}
    per = cell(
        "train",
        {**common, "loader": "per-sample"},
        10.0,
        info={"device": "cpu"},
        epoch_s=10.0,
        data_wait_s=0.3,
    )
    chunk = cell("train", {**common, "loader": "chunk"}, 9.7, info={"device": "cpu"}, epoch_s=9.7)
    v = evaluate(target("chunk-loader-59.9"), [per, chunk])
    assert v["verdict"] == FAIL and "3.0% less epoch_s" in v["measured"]
    assert "measured on CPU (data wait 3% of the per-sample epoch)" in v["reason"]
    fast = cell("train", {**common, "loader": "chunk"}, 3.0, info={"device": "cpu"}, epoch_s=3.0)
    assert evaluate(target("chunk-loader-59.9"), [per, fast])["verdict"] == PASS


def test_the_verdict_names_the_pairs_it_did_not_use() -> None:
    cpu = {"device": "cpu"}
    per = cell("train", {"amp": False, "loader": "per-sample"}, 10.0, info=cpu, epoch_s=10.0)
    chunk = cell("train", {"amp": False, "loader": "chunk"}, 4.5, info=cpu, epoch_s=4.5)
    per_amp = cell("train", {"amp": True, "loader": "per-sample"}, 8.0, info=cpu, epoch_s=8.0)
    chunk_amp = cell("train", {"amp": True, "loader": "chunk"}, 2.0, info=cpu, epoch_s=2.0)
    v = evaluate(target("chunk-loader-59.9"), [per, chunk, per_amp, chunk_amp])
    assert v["verdict"] == PASS and v["measured"] == "75.0% less epoch_s"
    other = f"{chunk['cell_id']} vs {per['cell_id']}"
    assert f"the best of 2 comparable pairs, the others: 55.0% ({other})" in v["reason"]
    # a single pair has nothing to add
    assert "comparable pairs" not in evaluate(target("chunk-loader-59.9"), [per, chunk])["reason"]


def test_amp_needs_a_gpu() -> None:
    off = cell("train", {"amp": False, "loader": "chunk"}, 10, info={"device": "cpu"}, epoch_s=10.0)
    on = cell("train", {"amp": True, "loader": "chunk"}, 60, info={"device": "cpu"}, epoch_s=60.0)
    v = evaluate(target("amp-2-3x"), [off, on])
    assert v["verdict"] == NA
    assert v["reason"].startswith("needs a GPU: the claim is CUDA float16 with GradScaler")
    assert "0.17x" in v["reason"]  # the CPU measurement is shown, not judged
    gpu_off = cell(
        "train", {"amp": False, "device": "cuda"}, 10, info={"device": "cuda"}, epoch_s=10.0
    )
    gpu_on = cell("train", {"amp": True, "device": "cuda"}, 4, info={"device": "cuda"}, epoch_s=4.0)
    assert evaluate(target("amp-2-3x"), [gpu_off, gpu_on])["verdict"] == PASS


def test_failed_cells_are_not_used() -> None:
    full = {"tickers": 500, "days": 756}
    broken = cell("backtest", full, 1.0, status="failed")
    assert evaluate_all([broken])[0]["verdict"] == NA
