"""ProcessTreeSampler on real busy processes."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from perfopt.profiling import ProcessTreeSampler


def _sample(cmd: list[str]) -> tuple[int, dict]:
    proc = subprocess.Popen(cmd)
    with ProcessTreeSampler(proc.pid, hz=20) as sampler:
        os.waitid(os.P_PID, proc.pid, os.WEXITED | os.WNOWAIT)  # keep the zombie readable
    proc.wait()
    return proc.pid, sampler.stop()


def test_two_busy_processes_count_about_twice_the_cpu_of_one(
    busy_cmd: Callable[[float, int], list[str]],
) -> None:
    root, two = _sample(busy_cmd(1.0, 2))

    # The forked child is part of the tree. Both processes loop for the same time and
    # the scheduler shares the cores fairly between them, so each burned about half of
    # the tree's CPU however loaded the machine is: the tree's utilization is about
    # twice that of one busy process. (A 1-process run measured before or after is no
    # fair yardstick here: other engineers' jobs come and go between the two runs.)
    pids = {p["pid"]: p for p in two["processes"]}
    assert root in pids and len(pids) == 2
    cpu = {pid: p["cpu_user_s"] + p["cpu_system_s"] for pid, p in pids.items()}
    tree_cpu = two["cpu_user_s"] + two["cpu_system_s"]
    # The tree also counts the child's time after its last tick (the root's reaped-
    # children counters): up to one sampling interval more than the per-process sums.
    per_process = sum(cpu.values())
    assert per_process - 0.01 <= tree_cpu <= per_process + 1.0 / two["hz"] + 0.01
    assert tree_cpu / max(cpu.values()) > 1.5
    busiest = max(p["cpu_cores"] for p in pids.values())
    assert two["cpu_utilization_cores"] / busiest > 1.5
    assert two["cpu_utilization_cores"] == pytest.approx(tree_cpu / two["wall_s"], rel=0.01)
    assert two["cores_available"] == len(os.sched_getaffinity(0))
    assert two["utilization_pct_of_available"] == pytest.approx(
        100 * two["cpu_utilization_cores"] / two["cores_available"], abs=0.1
    )
    assert two["samples"] >= 10
    assert all(p["busy"] for p in pids.values())


def test_summary_has_every_documented_field(busy_cmd: Callable[[float, int], list[str]]) -> None:
    _, summary = _sample(busy_cmd(0.3, 1))
    for key in (
        "hz", "samples", "wall_s", "cpu_user_s", "cpu_system_s", "cpu_utilization_cores",
        "cores_available", "utilization_pct_of_available", "iowait_s", "read_bytes",
        "write_bytes", "ctx_switches_voluntary", "ctx_switches_involuntary", "max_threads",
        "peak_rss_bytes", "processes",
    ):  # fmt: skip
        assert key in summary, key
    assert summary["peak_rss_bytes"] > 1_000_000  # a Python interpreter
    assert summary["max_threads"] >= 1
    assert summary["ctx_switches_voluntary"] + summary["ctx_switches_involuntary"] > 0
    proc = summary["processes"][0]
    assert "busy.py" in proc["cmdline"]
    for key in (
        "pid",
        "name",
        "cpu_user_s",
        "cpu_system_s",
        "peak_rss_bytes",
        "max_threads",
        "read_bytes",
        "write_bytes",
    ):
        assert key in proc, key


def test_written_bytes_are_counted(tmp_path: Path) -> None:
    target = tmp_path / "blob.bin"
    code = (
        "import os, sys\n"
        "with open(sys.argv[1], 'wb') as f:\n"
        "    f.write(os.urandom(4 << 20)); f.flush(); os.fsync(f.fileno())\n"
    )
    _, summary = _sample([sys.executable, "-c", code, str(target)])
    # 4 MiB hit the disk (fsync), unless the folder is in memory (tmpfs counts nothing).
    if summary["write_bytes"] == 0:
        pytest.skip(f"{tmp_path} does not count block IO (tmpfs?)")
    assert summary["write_bytes"] >= 4 << 20


def test_sampler_survives_a_process_that_is_already_gone() -> None:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    summary = ProcessTreeSampler(proc.pid, hz=10).__enter__().stop()
    assert summary["processes"] == []
    assert summary["cpu_user_s"] == 0.0
