"""profile_command, oversubscription and verdict."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from perfopt.errors import UserError
from perfopt.profiling import (
    format_profile,
    oversubscription,
    profile_command,
    threadpools,
)


def test_profile_json_is_written_and_matches_the_result(
    tmp_path: Path, busy_cmd: Callable[[float, int], list[str]]
) -> None:
    result = profile_command(busy_cmd(0.5, 1), tmp_path / "p", pyspy=False)
    on_disk = json.loads((tmp_path / "p" / "profile.json").read_text())
    assert on_disk == json.loads(json.dumps(result))
    assert set(result) >= {
        "command",
        "exit_code",
        "wall_s",
        "psutil",
        "pyspy",
        "oversubscription",
        "verdict",
    }
    assert result["pyspy"] == {**result["pyspy"], "available": False}
    # CPU by the thread states, but without py-spy nobody can say which code: never compute
    assert result["verdict"]["kind"] == "unclassified"
    assert "py-spy: no samples (turned off" in result["verdict"]["text"]
    assert result["overhead"]["sampler_cpu_s"] > 0 and result["overhead"]["pyspy_cpu_s"] is None
    text = format_profile(result)
    assert "verdict: unclassified: " in text and "psutil" in text and "threads vs cores" in text
    assert "thread states (/proc" in text and "views' cost" in text


def test_exit_code_and_env_are_passed(tmp_path: Path) -> None:
    code = "import os, sys; sys.exit(int(os.environ['PERFOPT_TEST_EXIT']))"
    result = profile_command(
        [sys.executable, "-c", code], tmp_path, pyspy=False, env={"PERFOPT_TEST_EXIT": "3"}
    )
    assert result["exit_code"] == 3
    assert result["verdict"] == {
        "kind": "failed",
        "text": "the command exited with status 3: no bound-ness verdict",
        "shares": {},
    }


def test_command_not_found_is_a_user_error(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="no-such-command-xyz"):
        profile_command(["no-such-command-xyz", "--flag"], tmp_path)
    with pytest.raises(UserError, match="/nonexistent/tool"):
        profile_command(["/nonexistent/tool"], tmp_path)
    with pytest.raises(UserError, match="no command"):
        profile_command([], tmp_path)
    assert not (tmp_path / "profile.json").exists()


def test_timeout_stops_the_whole_process_group(tmp_path: Path, gone) -> None:
    pid_file = tmp_path / "grandchild.pid"
    code = (
        "import subprocess, sys, time\n"
        "p = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)'])\n"
        f"open({str(pid_file)!r}, 'w').write(str(p.pid))\n"
        "time.sleep(60)\n"
    )
    result = profile_command([sys.executable, "-c", code], tmp_path, pyspy=False, timeout=1.5)
    assert result["timed_out"] is True
    assert result["verdict"]["kind"] == "failed" and "timed out" in result["verdict"]["text"]
    assert result["exit_code"] != 0
    grandchild = int(pid_file.read_text())
    assert gone(grandchild, 5)


def _summary(*procs: tuple[int, float, float, float], cores: int = 2) -> dict:
    """A sampler summary with processes (pid, cpu_cores, first_seen_s, last_seen_s)."""
    return {
        "cores_available": cores,
        "processes": [
            {"pid": pid, "name": "python", "max_threads": 3, "cpu_cores": c, "busy": c >= 0.5,
             "first_seen_s": a, "last_seen_s": b}
            for pid, c, a, b in procs
        ],
    }  # fmt: skip


def test_oversubscription_counts_blas_threads_of_busy_processes_at_once() -> None:
    two_workers = _summary((1, 0.05, 0, 10), (2, 0.95, 0, 10), (3, 0.95, 0, 10))
    fits = oversubscription(two_workers)
    assert fits["oversubscribed"] is False and fits["busy_processes"] == 2
    blas = {
        2: [{"user_api": "blas", "num_threads": 2}],
        3: [{"user_api": "blas", "num_threads": 2}],
    }
    over = oversubscription(two_workers, blas)
    assert over["oversubscribed"] is True and over["compute_threads"] == 4
    assert "exceed 2 core" in over["reason"]
    three = oversubscription(_summary((1, 0.7, 0, 10), (2, 0.7, 0, 10), (3, 0.6, 0, 10)))
    assert three["oversubscribed"] is True and three["busy_processes"] == 3
    # Busy one after the other never share the cores.
    serial = oversubscription(_summary((1, 0.9, 0, 2), (2, 0.9, 2, 4), (3, 0.9, 4, 6)))
    assert serial["oversubscribed"] is False and serial["busy_processes"] == 1
    assert oversubscription(_summary((1, 0.9, 0, 2)), cores=4)["cores"] == 4
    idle = oversubscription(_summary((1, 0.01, 0, 2)))
    assert idle["oversubscribed"] is False and "no process was busy" in idle["reason"]


def test_threadpools_lists_numpy_blas() -> None:
    pytest.importorskip("numpy")
    pools = threadpools()
    assert any(p["user_api"] == "blas" and p["num_threads"] >= 1 for p in pools)
    assert all("/" not in p["filepath"] for p in pools)
