"""Self-play with the network on CUDA: the inference server, and compiled CUDA graphs."""

from __future__ import annotations

import pytest

pytest.importorskip("torch")

from perfopt.selfplay.runner import SelfplayConfig, run_selfplay  # noqa: E402


def test_inference_server_on_cuda(cuda) -> None:
    cfg = SelfplayConfig(
        games=4, simulations=16, parallel="server", workers=2, start_method="spawn", device="cuda"
    )
    r = run_selfplay(cfg)
    assert r.device == "cuda" and r.games == 4
    assert r.stats.evaluations > 0 and r.metrics()["games_per_s"] > 0


def test_process_workers_on_cuda(cuda) -> None:
    cfg = SelfplayConfig(
        games=2, simulations=8, parallel="process", workers=2, start_method="spawn", device="cuda"
    )
    r = run_selfplay(cfg)
    assert r.device == "cuda" and r.games == 2 and len(r.startup_s) == 2


def test_serial_cuda_and_amp(cuda) -> None:
    r = run_selfplay(SelfplayConfig(games=2, simulations=16, device="cuda", amp=True))
    assert r.games == 2 and r.device == "cuda"


def test_compile_reduce_overhead_reports_compile_apart(cuda) -> None:
    cfg = SelfplayConfig(
        games=2,
        simulations=16,
        mcts_batch_size=8,
        device="cuda",
        compile=True,
        compile_mode="reduce-overhead",
    )
    r = run_selfplay(cfg)
    assert r.games == 2 and r.compile_s > 0  # reported apart from the games' clock
    assert r.config["compile_mode"] == "reduce-overhead"
