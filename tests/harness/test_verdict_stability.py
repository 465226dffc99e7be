"""scripts/verdict_stability.py on two synthetic runs: stable, a flip, a reversal."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "verdict_stability.py"
ENV = {"hostname": "h", "cores_available": 2, "git": {"commit": "c"}}


def line(
    cid: str, params: dict[str, Any], times: list[float], baseline: bool = False, **m: list[float]
) -> dict:
    runs = [{"seconds": t, "metrics": {k: v[i] for k, v in m.items()}} for i, t in enumerate(times)]
    return {
        "schema": 3,
        "kind": "cell",
        "cell_id": cid,
        "workload": "selfplay",
        "grid": "g",
        "params": params,
        "baseline": baseline,
        "status": "ok",
        "timing": {"n": len(runs)},
        "attribution": None,
        "runs": runs,
        "environment": ENV,
    }


def run(tmp_path: Path, name: str, b32: list[float]) -> Path:
    serial = {"parallel": "serial", "workers": 1}
    lines = [
        line(
            "s8",
            {**serial, "mcts_batch_size": 8},
            [4.0, 4.1, 3.9],
            True,
            games_per_s=[1.0, 0.98, 1.02],
        ),
        line("s32", {**serial, "mcts_batch_size": 32}, [4.0 / g for g in b32], games_per_s=b32),
    ]
    folder = tmp_path / name
    folder.mkdir()
    (folder / "results.jsonl").write_text("".join(json.dumps(x) + "\n" for x in lines))
    return folder


def stability(a: Path, b: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(SCRIPT), str(a), str(b)], capture_output=True, text=True
    )


def test_identical_runs_are_stable(tmp_path: Path) -> None:
    a, b = run(tmp_path, "a", [2.0, 2.05, 1.95]), run(tmp_path, "b", [1.9, 2.0, 2.1])
    done = stability(a, b)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "0 verdict flip(s)" in done.stdout and "0 recommendation reversal(s)" in done.stdout


def test_a_pass_fail_flip_and_a_reversal_are_reported(tmp_path: Path) -> None:
    a, b = run(tmp_path, "a", [2.0, 2.05, 1.95]), run(tmp_path, "b", [0.6, 0.62, 0.58])
    done = stability(a, b)
    assert done.returncode == 1
    assert "FLIP" in done.stdout and "REVERSED" in done.stdout


def test_bad_input_exits_2(tmp_path: Path) -> None:
    done = stability(tmp_path / "nope", tmp_path / "nope2")
    assert done.returncode == 2 and "does not exist" in done.stderr
