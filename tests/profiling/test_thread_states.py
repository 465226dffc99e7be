"""The thread-state view on a recorded /proc snapshot, and live on a real process tree."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from perfopt.profiling import ProcessTreeSampler, ThreadStates
from perfopt.profiling import _procfs as procfs

# Recorded by tests/profiling/data/record_proc_snapshot.py on x86_64: two frames 0.2 s
# apart of a process whose threads each block on one thing, and an O_DIRECT reader.
SNAPSHOT = Path(__file__).parent / "data" / "proc-snapshot"
PARENT, READER = 23982, 23983
MAIN, BUSY = 23982, 23989
UNIX_RECV, TCP_RECV, PIPE_READ, SLEEPER, LOCKED = 23984, 23985, 23986, 23987, 23988


def test_stat_schedstat_and_syscall_parse() -> None:
    task = SNAPSHOT / "t0" / str(PARENT) / "task"
    name, state, ppid, cpu = procfs.parse_stat((task / str(BUSY) / "stat").read_bytes())
    assert (name, state) == ("python", "R") and ppid > 1
    assert cpu == pytest.approx(44 / procfs.CLK_TCK)  # utime 42 + stime 2 ticks
    run, queued = procfs.parse_schedstat((task / str(BUSY) / "schedstat").read_bytes())
    assert run == pytest.approx(0.449763032) and queued == pytest.approx(0.0611651)
    assert procfs.parse_syscall((task / str(SLEEPER) / "syscall").read_bytes())[0] == 230
    assert procfs.parse_syscall(b"running\n") is None
    assert procfs.parse_syscall(b"-1 0x7ffd 0x7f00\n") is None
    # a command name with spaces and parentheses does not shift the fields
    fields = b"7 (a (b) c) S 1 " + b"0 " * 9 + b"300 100 0 0"
    assert procfs.parse_stat(fields)[1:] == ("S", 1, 400 / procfs.CLK_TCK)


@pytest.mark.parametrize(
    ("pid", "tid", "expected"),
    [
        (PARENT, UNIX_RECV, (procfs.PIPE, "recvfrom")),  # a Unix socketpair: local, a pipe
        (PARENT, TCP_RECV, (procfs.NETWORK, "recvfrom")),
        (PARENT, PIPE_READ, (procfs.PIPE, "read")),
        (PARENT, SLEEPER, (procfs.SLEEP, "clock_nanosleep")),
        (PARENT, LOCKED, (procfs.SLEEP, "futex")),
        (READER, READER, (procfs.DISK, "preadv2")),  # state D
    ],
)
def test_what_each_blocked_thread_waits_on(pid: int, tid: int, expected: tuple) -> None:
    root = str(SNAPSHOT / "t0")
    state = procfs.read_task(pid, tid, root).state
    table = procfs.syscall_table("x86_64")
    assert procfs.blocked_on(pid, tid, state, table, procfs.FdKinds(root), root) == expected


def test_without_a_syscall_table_states_still_split_disk_from_sleep() -> None:
    root = str(SNAPSHOT / "t0")
    fds = procfs.FdKinds(root)
    assert procfs.blocked_on(PARENT, TCP_RECV, "S", None, fds, root) == (procfs.SLEEP, None)
    assert procfs.blocked_on(READER, READER, "D", None, fds, root) == (procfs.DISK, None)


def test_two_frames_give_time_by_class(tmp_path: Path) -> None:
    proc = tmp_path / "proc"
    now = [0.0]
    states = ThreadStates(root=str(proc), machine="x86_64", clock=lambda: now[0])
    for frame, t in (("t0", 0.0), ("t1", 0.3)):
        if proc.is_symlink():
            proc.unlink()
        proc.symlink_to(SNAPSHOT / frame)
        now[0] = t
        states.tick([PARENT, READER])
    summary = states.summary(wall_s=0.3, cores=2)
    threads = {t["tid"]: t for t in summary["threads"]}
    busy = threads[BUSY]
    assert busy["cpu_s"] == pytest.approx(0.675749617 - 0.449763032, abs=1e-4)
    assert busy["runqueue_s"] == pytest.approx(0.080943198 - 0.0611651, abs=1e-4)
    # runnable at both readings: the rest of its interval is unknown, in no class
    assert busy["unknown_s"] == pytest.approx(0.3 - busy["cpu_s"] - busy["runqueue_s"], abs=1e-3)
    assert threads[TCP_RECV]["network_s"] == pytest.approx(0.3)
    assert threads[UNIX_RECV]["pipe_s"] == threads[PIPE_READ]["pipe_s"] == pytest.approx(0.3)
    assert threads[SLEEPER]["sleep_s"] == threads[LOCKED]["sleep_s"] == pytest.approx(0.3)
    reader = threads[READER]
    assert reader["disk_s"] == pytest.approx(0.3 - reader["cpu_s"] - reader["runqueue_s"])
    assert reader["calls"] == {"preadv2": 2}
    cpu = sum(t["cpu_s"] + t["runqueue_s"] for t in summary["threads"])
    assert summary["runnable_mean"] == pytest.approx(cpu / 0.3, abs=1e-2)
    procs = {p["pid"]: p for p in summary["processes"]}
    assert procs[PARENT]["python"] is True and procs[PARENT]["max_threads"] == 7
    assert procs[PARENT]["thread_caps"] == {"OPENBLAS_NUM_THREADS": "2"}
    assert summary["schedstat"] is True and summary["syscalls"] is True


def test_idle_thread_needs_many_sleeping_readings_and_little_cpu(tmp_path: Path) -> None:
    proc = tmp_path / "proc"
    states = ThreadStates(root=str(proc), machine="x86_64", clock=iter(range(100)).__next__)
    for frame in ("t0", "t1", "t0", "t1"):  # CPU counters going back are clamped to 0
        if proc.is_symlink():
            proc.unlink()
        proc.symlink_to(SNAPSHOT / frame)
        states.tick([PARENT, READER])
    threads = {t["tid"]: t for t in states.summary(wall_s=3.0, cores=2)["threads"]}
    assert threads[SLEEPER]["idle"] and threads[LOCKED]["idle"] and threads[PIPE_READ]["idle"]
    assert not threads[BUSY]["idle"]  # runnable at every reading
    assert not threads[TCP_RECV]["idle"]  # waiting on the network is not idle
    assert not threads[READER]["idle"]


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="/proc")
def test_sampler_reports_thread_states_of_a_live_tree(tmp_path: Path) -> None:
    code = (
        "import os, threading, time\n"
        "threading.Thread(target=time.sleep, args=(30,), daemon=True).start()\n"
        "r, w = os.pipe()\n"
        "pid = os.fork()\n"
        "if pid == 0:\n"
        "    os.read(r, 1); os._exit(0)\n"
        "time.sleep(0.8)\n"
        "os.write(w, b'x'); os.waitpid(pid, 0)\n"
    )
    proc = subprocess.Popen([sys.executable, "-c", code])
    sampler = ProcessTreeSampler(proc.pid, hz=20)
    sampler.start()
    os.waitid(os.P_PID, proc.pid, os.WEXITED | os.WNOWAIT)
    summary = sampler.stop()
    proc.wait()
    states = summary["thread_states"]
    assert states["available"] is True and states["ticks"] >= 5
    pids = {p["pid"] for p in states["processes"]}
    assert proc.pid in pids and len(pids) == 2  # the forked child was seen too
    seconds = states["seconds"]
    assert seconds["sleep"] > 0.5 and seconds["pipe"] > 0.3
    assert seconds["sleep"] + seconds["pipe"] > 5 * seconds["cpu"]
    assert states["runnable_mean"] < 0.5


def test_sampler_says_why_without_thread_states() -> None:
    summary = ProcessTreeSampler(os.getpid(), thread_states=False)
    summary.start()
    out = summary.stop()
    assert out["thread_states"] == {"available": False, "reason": "turned off"}


def test_a_profilers_pauses_do_not_hide_demand_for_a_core() -> None:
    from perfopt.profiling._tstates import _wanted

    # a CPU-bound worker paused by py-spy: seen stopped at 3 readings, never blocked
    worker = {"cpu_s": 1.5, "runqueue_s": 0.2, "stopped_s": 0.2, "unknown_s": 0.1,
              "observed_s": 2.0, "readings": {"cpu": 17, "stopped": 3}}  # fmt: skip
    assert _wanted(worker) == pytest.approx(2.0)
    # without stopped readings, time between runnable readings may have been a block
    plain = {**worker, "stopped_s": 0.0, "readings": {"cpu": 17, "sleep": 3}}
    assert _wanted(plain) == pytest.approx(1.7)
    assert _wanted({**worker, "observed_s": 0.0}) == pytest.approx(1.7)
