"""Self-play runner: every parallel mode, crashes, the fork trap, Ctrl-C, bad input, CLI."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import psutil
import pytest

torch = pytest.importorskip("torch")

from perfopt.cli import main  # noqa: E402
from perfopt.errors import UserError  # noqa: E402
from perfopt.selfplay.game import Gomoku  # noqa: E402
from perfopt.selfplay.runner import SelfplayConfig, WorkerError, run_selfplay  # noqa: E402
from perfopt.selfplay.workload import SelfplayWorkload  # noqa: E402

METRIC_KEYS = {
    "games_per_s",
    "positions_per_s",
    "startup_s_mean",
    "bytes_sent",
    "peak_rss_bytes_max",
}
TINY = {"games": 2, "simulations": 8, "mcts_batch_size": 4, "channels": 8, "blocks": 1}


def _check_games(result, out: Path, games: int) -> None:
    assert result.games == games == len(result.records)
    assert sorted(r.index for r in result.records) == list(range(games))
    for r in result.records:  # every game complete and legal
        g = Gomoku()
        for m in r.moves:
            g.play(int(m))
        assert g.done and g.winner == r.winner
    data = np.load(out / "games.npz")
    assert len(data["lengths"]) == games and data["lengths"].sum() == len(data["states"]) == len(
        data["outcomes"]
    )
    assert set(result.metrics()) == METRIC_KEYS


@pytest.mark.parametrize(
    ("parallel", "workers", "start_method"),
    [
        ("serial", 1, "fork"),
        ("thread", 2, "fork"),
        ("process", 2, "fork"),
        ("process", 2, "forkserver"),
        ("server", 2, "fork"),
        ("server", 2, "spawn"),  # the one spawn test: server workers never import torch
    ],
)
def test_every_mode_plays_the_requested_complete_games(
    tmp_path: Path, parallel: str, workers: int, start_method: str
) -> None:
    cfg = SelfplayConfig(
        parallel=parallel,
        workers=workers,
        start_method=start_method,
        out=tmp_path,
        worker_timeout_s=120,
        **TINY,
    )
    result = run_selfplay(cfg)
    _check_games(result, tmp_path, 2)
    assert len(result.startup_s) == workers
    if parallel in ("process", "server"):
        assert result.bytes_sent > 0
        assert {f"worker-{i}" for i in range(workers)} <= set(result.peak_rss_bytes)
    else:
        assert result.bytes_sent == 0
    if parallel == "process":  # each worker got its own copy of the weights
        assert result.bytes_sent > 2 * sum(
            p.numel() * 4 for p in torch.nn.Conv2d(8, 8, 3).parameters()
        )


def test_modes_play_the_same_games() -> None:
    """Game i's random stream does not depend on the worker: same net, same games."""
    serial = run_selfplay(SelfplayConfig(parallel="serial", **TINY))
    process = run_selfplay(
        SelfplayConfig(parallel="process", workers=2, start_method="fork", **TINY)
    )
    a = {r.index: r.moves.tolist() for r in serial.records}
    b = {r.index: r.moves.tolist() for r in process.records}
    assert a == b and serial.stats == process.stats


def test_a_killed_worker_is_reported_by_name() -> None:
    pids: list[int] = []

    def kill_second(index: int, pid: int) -> None:
        pids.append(pid)
        if index == 1:
            os.kill(pid, signal.SIGKILL)

    cfg = SelfplayConfig(
        parallel="process",
        workers=2,
        start_method="fork",
        games=4,
        simulations=8,
        channels=8,
        blocks=1,
    )
    with pytest.raises(WorkerError, match=r"selfplay worker 1 \(pid \d+\) was killed by SIGKILL"):
        run_selfplay(cfg, on_worker_start=kill_second)
    assert len(pids) == 2 and not any(
        psutil.pid_exists(p) and psutil.Process(p).status() != psutil.STATUS_ZOMBIE for p in pids
    )


def test_fork_after_a_multithreaded_torch_op_does_not_hang() -> None:
    """A forked child used to hang once the parent had run a 2-thread op (measured here)."""
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        a = torch.randn(600, 600)
        (a @ a).sum()  # starts the parent's intra-op pool
    finally:
        torch.set_num_threads(before)
    # Workers set one thread before any torch op; a hang would surface as WorkerError.
    cfg = SelfplayConfig(
        parallel="process", workers=2, start_method="fork", worker_timeout_s=60, **TINY
    )
    assert run_selfplay(cfg).games == 2


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"workers": 0, "parallel": "process"}, "--workers"),
        ({"games": 0}, "--games"),
        ({"mcts_batch_size": 0}, "--mcts-batch-size"),
        ({"start_method": "vfork", "parallel": "process", "workers": 2}, "unknown start method"),
        ({"parallel": "gpu"}, "--parallel"),
        ({"parallel": "serial", "workers": 2}, "serial runs one worker"),
        (
            {"parallel": "process", "workers": 1, "start_method": "fork", "torch_threads": 2},
            "can hang",
        ),
        ({"parallel": "process", "workers": 64}, "exceed"),
    ],
)
def test_bad_or_unsafe_settings_are_refused(change: dict, message: str) -> None:
    with pytest.raises(UserError, match=message):
        run_selfplay(SelfplayConfig(**{**TINY, **change}))


@pytest.mark.skipif(
    torch.cuda.is_available(), reason="checks the refusal on a machine without CUDA"
)
def test_cuda_without_cuda_is_refused() -> None:
    with pytest.raises(UserError, match="CUDA is not available"):
        run_selfplay(SelfplayConfig(device="cuda", **TINY))


def test_cli_writes_records_and_summary(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    rc = main(
        [
            "selfplay",
            "--parallel",
            "thread",
            "--workers",
            "2",
            "--games",
            "2",
            "--simulations",
            "8",
            "--channels",
            "8",
            "--out",
            str(tmp_path),
        ]
    )
    assert rc == 0
    assert "games/s" in capsys.readouterr().out
    summary = json.loads((tmp_path / "selfplay.json").read_text())
    assert summary["games"] == 2 and set(summary["metrics"]) == METRIC_KEYS
    assert (tmp_path / "games.npz").exists()


@pytest.mark.parametrize(
    "args",
    [
        ["--workers", "0"],
        ["--start-method", "bogus"],
        ["--games", "0"],
        ["--parallel", "serial", "--workers", "2"],
    ],
)
def test_cli_bad_input_exits_2(
    args: list[str], tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    assert main(["selfplay", "--out", str(tmp_path), *args]) == 2
    assert "perfopt: error:" in capsys.readouterr().err


def test_ctrl_c_stops_every_worker(tmp_path: Path) -> None:
    cmd = [
        sys.executable,
        "-m",
        "perfopt",
        "selfplay",
        "--parallel",
        "process",
        "--workers",
        "2",
        "--start-method",
        "fork",
        "--games",
        "200",
        "--simulations",
        "64",
        "--out",
        str(tmp_path),
    ]
    proc = subprocess.Popen(cmd, stderr=subprocess.PIPE, text=True)
    parent = psutil.Process(proc.pid)
    deadline = time.monotonic() + 60
    while len(parent.children()) < 2 and time.monotonic() < deadline:
        time.sleep(0.1)
    workers = parent.children()
    assert len(workers) == 2, "workers did not start"
    time.sleep(0.5)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 130 and "interrupted" in err
    gone, alive = psutil.wait_procs(workers, timeout=5)
    assert not alive


def test_workload_skips_and_runs(tmp_path: Path) -> None:
    w = SelfplayWorkload()
    assert set(w.defaults) <= set(w.axes)
    assert w.skip_reason({"device": "cpu"}) is None
    assert "serial" in w.skip_reason({"parallel": "serial", "workers": 2})
    assert "cores" in w.skip_reason({"parallel": "process", "workers": 64})
    assert "hang" in w.skip_reason(
        {"parallel": "process", "workers": 1, "start_method": "fork", "torch_threads": 2}
    )
    # AMP on a CPU is bfloat16 autocast: measured, not refused (its speed depends on the CPU)
    assert w.skip_reason({"device": "cpu", "amp": True}) is None
    m = w.run(
        {
            "device": "cpu",
            "games": 2,
            "simulations": 8,
            "channels": 16,
            "parallel": "server",
            "workers": 2,
            "start_method": "fork",
        },
        tmp_path,
        tmp_path / "work",
    )
    assert set(m.metrics) == METRIC_KEYS and m.metrics["games_per_s"] > 0 and m.info["games"] == 2
    assert (tmp_path / "work" / "games.npz").exists()


def test_a_silent_worker_is_reported_not_waited_on_forever() -> None:
    def freeze_first(index: int, pid: int) -> None:
        if index == 0:
            os.kill(pid, signal.SIGSTOP)  # alive but silent, like a hung child

    cfg = SelfplayConfig(
        parallel="server",
        workers=2,
        start_method="fork",
        games=200,
        worker_timeout_s=1.0,
        **{k: v for k, v in TINY.items() if k != "games"},
    )
    with pytest.raises(WorkerError, match=r"selfplay worker 0 \(pid \d+\) sent nothing for 1 s"):
        run_selfplay(cfg, on_worker_start=freeze_first)
