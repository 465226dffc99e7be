"""The matrix's views on a real child: thread states and costs travel, the verdict is a value."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from perfopt.harness.views import CellViews, judge
from perfopt.profiling import native_status, pyspy_available

BUSY = (
    "import time\n"
    "end = time.perf_counter() + 1.2\n"
    "x = 0\n"
    "while time.perf_counter() < end:\n"
    "    x += 1\n"
)


def _watch(tmp_path: Path, pyspy: bool, nonblocking: bool) -> tuple[dict, dict, int]:
    proc = subprocess.Popen([sys.executable, "-c", BUSY])
    try:
        views = CellViews(proc.pid, tmp_path / "spy", pyspy=pyspy, nonblocking=nonblocking)
        views.start()
        time.sleep(0.8)
        psutil_summary, pyspy_summary = views.stop()
    finally:
        proc.wait()
    return psutil_summary, pyspy_summary, proc.pid


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="thread states need /proc")
def test_views_without_pyspy_carry_thread_states_and_the_sampler_cost(tmp_path: Path) -> None:
    ps, spy, pid = _watch(tmp_path, pyspy=False, nonblocking=False)
    assert ps["thread_states"]["available"] is True
    assert ps["cost_share_of_target_cpu"] is not None and ps["cost_share_of_target_cpu"] >= 0
    assert spy["available"] is False
    over, value = judge(ps, spy, pid, None)
    assert over is not None and over["runnable_threads_mean"] is not None
    assert value["kind"] == "unclassified"  # on a CPU, but no stacks say which code
    assert "py-spy: no samples" in value["text"]


@pytest.mark.skipif(not pyspy_available()[0], reason="py-spy missing or not permitted here")
@pytest.mark.parametrize("nonblocking", [False, True])
def test_pyspy_summary_carries_its_runs_thread_states_costs_and_native_flag(
    tmp_path: Path, nonblocking: bool
) -> None:
    ps, spy, pid = _watch(tmp_path, pyspy=True, nonblocking=nonblocking)
    assert spy["available"] is True and spy["samples"] > 0
    assert spy["thread_states"] is ps["thread_states"]  # the same run's, for the verdict
    assert spy["cost_share_of_target_cpu"] > 0 and spy["target_cpu_s"] > 0
    native = native_status()[0] and not nonblocking
    assert spy["native"] is native
    if nonblocking:
        assert "--nonblocking" in spy["native_reason"]
    _, value = judge(ps, spy, pid, None)
    assert set(value) >= {"kind", "text", "shares"}
    assert value["kind"] == ("cpu-python" if native else "unclassified")


def test_a_cell_that_did_not_finish_gets_failed_not_a_bound(tmp_path: Path) -> None:
    ps = {"available": True, "samples": 3, "cpu_user_s": 0.5, "cpu_system_s": 0.0,
          "cores_available": 2, "processes": [], "thread_states": {"available": False}}  # fmt: skip
    for status in ("failed", "timeout"):
        _, value = judge(ps, {"available": False, "reason": "x"}, os.getpid(), None, status)
        assert value["kind"] == "failed" and value["shares"] == {}
        assert value["text"] == f"the cell {status}: no bound-ness verdict"
    _, ok = judge(ps, {"available": False, "reason": "x"}, os.getpid(), None, "ok")
    assert ok["kind"] != "failed"
