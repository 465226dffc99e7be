"""A cell's processes end with it: SIGKILL or SIGTERM to `perfopt sweep`, and timeouts.

Each test runs a real `perfopt sweep` whose command starts a child in its group, one
that left it with setsid, and a daemon (detached into its own session by a parent that
then exited); every pid must be gone afterwards.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

CELL = """
import os, signal, subprocess, sys, time
folder = sys.argv[1]
def on_term(signum, frame):
    open(os.path.join(folder, "got-term"), "w").write("yes")
    sys.exit(0)
signal.signal(signal.SIGTERM, on_term)
sleep = [sys.executable, "-c", "import time; time.sleep(300)"]
inside = subprocess.Popen(sleep)
escaped = subprocess.Popen(sleep, start_new_session=True)
# A daemon: its parent detaches it into a new session, then exits.
spawn = ("import subprocess, sys, time; "
         "p = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(300)'], "
         "start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL); "
         "print(p.pid, flush=True)")
middle = subprocess.run([sys.executable, "-c", spawn], capture_output=True, text=True)
daemon = int(middle.stdout.split()[0])
pids = f"{os.getpid()} {inside.pid} {escaped.pid} {daemon}"
tmp = os.path.join(folder, "pids.tmp")
open(tmp, "w").write(pids)
os.replace(tmp, os.path.join(folder, "pids"))
time.sleep(300)
"""


@pytest.fixture
def cleanup():
    """Kill what a failed test left running: the recorded pids, if still the same ones."""
    import psutil

    started: list[tuple[int, float]] = []
    yield started
    for pid, created in started:
        with contextlib.suppress(psutil.Error):
            p = psutil.Process(pid)
            if p.create_time() == created:
                p.kill()


def _record(cleanup: list[tuple[int, float]], pid: int) -> None:
    import psutil

    with contextlib.suppress(psutil.Error):
        cleanup.append((pid, psutil.Process(pid).create_time()))


def _start_sweep(tmp_path: Path, cleanup, *extra: str) -> tuple[subprocess.Popen[str], Path]:
    script = tmp_path / "cell.py"
    script.write_text(CELL)
    folder = tmp_path / "pids"
    folder.mkdir()
    env = {**os.environ, "PERFOPT_CACHE_DIR": str(tmp_path / "cache")}
    cmd = [sys.executable, "-m", "perfopt", "sweep", "--axis", "n=1", "--no-pyspy",
           "--out", str(tmp_path / "out"), *extra, "--",
           sys.executable, str(script), str(folder), "{n}"]  # fmt: skip
    proc = subprocess.Popen(
        cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        start_new_session=True,  # signals in this test go to perfopt alone
    )  # fmt: skip
    _record(cleanup, proc.pid)
    return proc, folder


def _wait_for_pids(proc: subprocess.Popen[str], folder: Path, cleanup) -> list[int]:
    deadline = time.monotonic() + 60
    while not (folder / "pids").exists():
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, "the cell never started its children"
        time.sleep(0.05)
    pids = [int(p) for p in (folder / "pids").read_text().split()]
    for pid in pids:
        _record(cleanup, pid)
    return pids


def _survivors(pids: list[int], gone) -> list[int]:
    return [pid for pid in pids if not gone(pid, 15.0)]


@pytest.mark.slow
def test_sigkill_to_sweep_takes_the_whole_cell_with_it(tmp_path: Path, gone, cleanup) -> None:
    proc, folder = _start_sweep(tmp_path, cleanup)
    pids = _wait_for_pids(proc, folder, cleanup)
    time.sleep(1.5)  # the watchdog records the tree every 0.5 s (the documented window)
    os.kill(proc.pid, signal.SIGKILL)
    proc.communicate(timeout=30)
    assert _survivors(pids, gone) == []


@pytest.mark.slow
def test_sigterm_reaches_the_cell_and_sweep_exits_143(tmp_path: Path, gone, cleanup) -> None:
    proc, folder = _start_sweep(tmp_path, cleanup)
    pids = _wait_for_pids(proc, folder, cleanup)
    os.kill(proc.pid, signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 128 + signal.SIGTERM, err
    assert (folder / "got-term").exists(), "the cell never saw SIGTERM"
    assert "SIGTERM" in err and "Traceback" not in err
    assert _survivors(pids, gone) == []


@pytest.mark.slow
def test_a_timed_out_cell_loses_the_processes_that_left_its_group(
    tmp_path: Path, gone, cleanup
) -> None:
    proc, folder = _start_sweep(tmp_path, cleanup, "--cell-timeout", "8")
    pids = _wait_for_pids(proc, folder, cleanup)
    _, err = proc.communicate(timeout=90)
    assert proc.returncode == 3, err  # the cell timed out: the documented exit status
    assert "timed out" in err
    assert _survivors(pids, gone) == []
