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


def _two_axes(tmp_path: Path, name: str, one: list[float], both: list[float]) -> Path:
    lines = [
        line("base", {"a": 0, "b": 0}, [3.0, 3.1, 2.9], True),
        line("one", {"a": 1, "b": 0}, one),
        line("both", {"a": 1, "b": 1}, both),
    ]
    folder = tmp_path / name
    folder.mkdir()
    (folder / "results.jsonl").write_text("".join(json.dumps(x) + "\n" for x in lines))
    return folder


def test_a_recommendation_that_is_part_of_the_other_is_a_refinement(tmp_path: Path) -> None:
    # A: b=1 clearly adds speed on top of a=1; B: it adds nothing the runs can show
    a = _two_axes(tmp_path, "a", [1.5, 1.55, 1.45], [0.5, 0.52, 0.49])
    b = _two_axes(tmp_path, "b", [1.0, 1.04, 0.97], [0.97, 0.92, 1.05])
    done = stability(a, b)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "refined (allowed)" in done.stdout and "0 recommendation reversal(s)" in done.stdout


def test_two_different_settings_are_a_reversal(tmp_path: Path) -> None:
    a = _two_axes(tmp_path, "a", [1.0, 1.04, 0.97], [3.0, 3.1, 2.9])
    folder = tmp_path / "b"
    folder.mkdir()
    lines = [
        line("base", {"a": 0, "b": 0}, [3.0, 3.1, 2.9], True),
        line("one", {"a": 1, "b": 0}, [3.0, 3.1, 2.9]),
        line("other", {"a": 0, "b": 1}, [1.0, 1.04, 0.97]),
    ]
    (folder / "results.jsonl").write_text("".join(json.dumps(x) + "\n" for x in lines))
    done = stability(a, folder)
    assert done.returncode == 1 and "REVERSED" in done.stdout
