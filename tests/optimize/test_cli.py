"""The CLI: bad input exits 2 with one line; seeded runs repeat in fresh processes."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from perfopt.cli import main
from perfopt.optimize import physical_cores

from .conftest import END, START


def run_cli(capsys, *args: str) -> tuple[int, str]:
    rc = main(["optimize", *args])
    captured = capsys.readouterr()
    return rc, captured.err


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--storage", "redis://x"], "unknown storage"),
        (["--storage", "postgresql://postgres:topsecret@127.0.0.1:1/test"], "127.0.0.1:1"),
        (["--n-jobs", "0"], "--n-jobs"),
        (["--n-jobs", "-2"], "--n-jobs"),
        (["--parallel-mode", "backtest", "--bt-workers", "0"], "--bt-workers"),
        (["--start", "2023-06-01", "--end", "2022-01-01"], "is after --end"),
        (["--start", "2030-01-01", "--end", "2030-12-31"], "window 2030"),
        (["--n-trials", "0"], "--n-trials"),
        (["--sampler", "nsga2"], "second objective"),
        (["--storage", "memory", "--n-jobs", "2"], "in-memory storage"),
        (["--access", "naive", "--source", "hdf5"], "--source sqlite"),
    ],
)
def test_bad_input_exits_2_with_one_line(capsys, data_dir, tmp_path, args, message):
    base = ["--data", str(data_dir), "--start", START, "--end", END, "--study-name", "bad",
            "--storage", f"sqlite:///{tmp_path}/bad.db", "--no-progress"]  # fmt: skip
    rc, err = run_cli(capsys, *base, *args)
    assert rc == 2
    assert message in err
    assert len(err.strip().splitlines()) == 1
    assert "topsecret" not in err
    assert not (tmp_path / "studies").exists()


def test_hybrid_oversubscription_refused_unless_allowed(capsys, data_dir, tmp_path):
    n = physical_cores() + 1
    base = ["--data", str(data_dir), "--start", START, "--end", END, "--study-name", "h",
            "--storage", f"sqlite:///{tmp_path}/h.db", "--parallel-mode", "hybrid",
            "--n-jobs", str(n), "--bt-workers", "2", "--no-progress"]  # fmt: skip
    rc, err = run_cli(capsys, *base)
    assert rc == 2 and "--allow-oversubscribe" in err
    # Allowed: validation passes (a study of one trial runs).
    from perfopt.optimize import OptimizeConfig

    cfg = OptimizeConfig(data_dir, mode="hybrid", n_jobs=n, bt_workers=2, allow_oversubscribe=True)
    assert cfg.validated().n_jobs == n


def test_seeded_runs_repeat_in_fresh_spawned_processes(data_dir, tmp_path):
    """Two CLI runs in fresh interpreters, workers spawned: same best value and params."""
    results = []
    for i in range(2):
        out = tmp_path / f"s{i}.json"
        cmd = [sys.executable, "-m", "perfopt", "optimize", "--data", str(data_dir),
               "--start", START, "--end", END, "--n-trials", "4", "--study-name", "repeat",
               "--storage", f"journal://{tmp_path}/r{i}.log", "--start-method", "spawn",
               "--seed", "11", "--no-progress", "--summary-json", str(out)]  # fmt: skip
        subprocess.run(cmd, check=True, capture_output=True, timeout=120)
        results.append(json.loads(out.read_text()))
    a, b = results
    assert a["best"]["value"] == b["best"]["value"]
    assert a["best"]["params"] == b["best"]["params"]
    # Spawned children got the caps before numpy loaded: one thread per pool.
    for pools in a["thread_pools"].values():
        assert pools and all(v == 1 for v in pools.values())
