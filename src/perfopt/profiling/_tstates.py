"""The kernel's view: every thread's state over the run, tick by tick, from /proc.

This view needs no stack rules. Each tick reads every thread of the process tree
(`_procfs`): the time between two ticks is split into on-CPU time and run-queue time
(from schedstat, exact), and the rest, off the CPU, is given to what the thread was
blocked on at either end of the interval (D: disk; S in a socket call: network; S on a
pipe or local socket: pipe; S anywhere else: sleep). Threads running or waiting for a
core, summed over the tree and averaged over the run, are the demand for cores: more
than the cores available is starvation, whatever the CPU use.
"""

from __future__ import annotations

import os
import re
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import perfopt.profiling._procfs as procfs
from perfopt.machine import THREAD_CAP_VARS_SEEN

CPU, RUNQUEUE, STOPPED, UNKNOWN = "cpu", "runqueue", "stopped", "unknown"
BLOCKED = (procfs.DISK, procfs.NETWORK, procfs.PIPE, procfs.SLEEP)
# Off-CPU time goes to what the thread was blocked on at the end of the interval, else at
# its start; "stopped" is time paused by a debugger or a profiler (py-spy pauses its
# target to read native stacks), "unknown" time between two readings that both found the
# thread runnable (it blocked and woke in between). Neither counts in the shares.
CLASSES = (CPU, RUNQUEUE, *BLOCKED, STOPPED, UNKNOWN)
# A thread using under a tenth of a core, found asleep (or waiting on a pipe) at most of
# its readings, does no work of its own: an idle helper, or, when all of a process's
# threads are, a supervisor. Readings, not time, and a loose "most": a profiler that
# pauses and resumes a sleeper (py-spy does, to read native stacks) leaves it runnable
# for a moment each time, and on a loaded machine that moment shows up at a fair share of
# the readings and as run-queue time, which is not demand for a core: an idle thread's
# run-queue time counts as its waiting.
IDLE_SHARE = 0.6
_IDLE_CPU = 0.1
_MIN_READINGS = 3
# Thread pools worth naming when the cores are oversubscribed: (label, library regex).
_POOL_LIBS = (
    ("OpenBLAS", re.compile(rb"openblas", re.I)),
    ("MKL", re.compile(rb"libmkl", re.I)),
    ("OpenMP (GNU)", re.compile(rb"libgomp")),
    ("OpenMP (Intel/LLVM)", re.compile(rb"libiomp|libomp\b|libomp\.")),
    ("TBB", re.compile(rb"libtbb")),
    ("numba", re.compile(rb"numba/.*\.so")),
    ("torch", re.compile(rb"libtorch_cpu")),
)
_MAX_MAP_READS = 4
_STOPPED = frozenset("tT")


@dataclass
class _Thread:
    tid: int
    pid: int
    name: str
    cpu: float
    runqueue: float | None
    state: str
    blocked: str | None  # what it waited for at the last tick, if it was blocked
    first: float
    last: float
    seconds: Counter[str] = field(default_factory=Counter)
    readings: Counter[str] = field(default_factory=Counter)  # class seen at each tick
    calls: Counter[str] = field(default_factory=Counter)


@dataclass
class _Process:
    pid: int
    name: str
    exe: str
    python: bool
    max_threads: int = 0
    map_reads: int = 0
    pools: list[str] = field(default_factory=list)
    caps: dict[str, str] = field(default_factory=dict)


def _exe_name(pid: int, root: str) -> str:
    try:
        return os.path.basename(os.readlink(f"{root}/{pid}/exe"))
    except OSError:
        return ""


class ThreadStates:
    """Accumulate the thread states of a process tree, one `tick(pids)` at a time.

    Contract: call `tick` with the tree's pids, at any rate; each thread is read with
    the time `clock()` gives at that moment (monotonic seconds). The first tick sets the
    baseline (threads alive then are measured from then on, threads
    born later from their birth). `summary(wall_s, cores)` returns a JSON-able dict.
    One instance is used by one thread. It only reads /proc; it never signals anyone.
    """

    def __init__(
        self,
        root: str = procfs.PROC,
        machine: str | None = None,
        clock: Callable[[], float] = time.perf_counter,
    ) -> None:
        self.root = root
        self.clock = clock
        self.table = procfs.syscall_table(machine)
        self.schedstat: bool | None = None
        self._fds = procfs.FdKinds(root)
        self._threads: dict[tuple[int, int], _Thread] = {}
        self._procs: dict[int, _Process] = {}
        self._first = True
        self.ticks = 0

    def tick(self, pids: Iterable[int]) -> None:
        """Read every thread of `pids` and account the time since the previous tick."""
        for pid in pids:
            tids = procfs.tasks(pid, self.root)
            if not tids:
                continue
            self._process(pid, len(tids))
            for tid in tids:
                self._thread(pid, tid)
        self._first = False
        self.ticks += 1

    def _process(self, pid: int, threads: int) -> None:
        proc = self._procs.get(pid)
        if proc is None:
            exe = _exe_name(pid, self.root)
            comm = (procfs.read_text(f"{self.root}/{pid}/comm") or "?").strip()
            proc = self._procs[pid] = _Process(
                pid, comm, exe, python=bool(re.match(r"(python|pypy)", exe or comm))
            )
            environ = procfs.read_big(f"{self.root}/{pid}/environ").split(b"\0")
            for item in environ:
                key, _, value = item.decode(errors="replace").partition("=")
                if key in THREAD_CAP_VARS_SEEN:
                    proc.caps[key] = value
        # Pools start their threads when first used: look at the libraries again then.
        if threads > proc.max_threads and proc.map_reads < _MAX_MAP_READS:
            proc.map_reads += 1
            maps = procfs.read_big(f"{self.root}/{pid}/maps")
            proc.pools = [label for label, rx in _POOL_LIBS if rx.search(maps)]
        proc.max_threads = max(proc.max_threads, threads)

    def _thread(self, pid: int, tid: int) -> None:
        now = self.clock()
        task = procfs.read_task(pid, tid, self.root)
        if task is None:
            return
        if self.schedstat is None:
            self.schedstat = task.runqueue_s is not None
        blocked, call = None, None
        if task.state in ("S", "D"):
            blocked, call = procfs.blocked_on(
                pid, tid, task.state, self.table, self._fds, self.root
            )
        key = (pid, tid)
        rec = self._threads.get(key)
        if rec is None:
            rec = self._threads[key] = _Thread(
                tid, pid, task.name, task.cpu_s, task.runqueue_s, task.state, blocked, now, now
            )
            if not self._first:  # born since the last tick: count its CPU since birth
                rec.seconds[CPU] += task.cpu_s
                rec.seconds[RUNQUEUE] += task.runqueue_s or 0.0
        else:
            self._account(rec, task, blocked, now)
        rec.name = task.name
        if call:
            rec.calls[call] += 1
        if task.state in _STOPPED:
            rec.readings[STOPPED] += 1
        elif blocked:
            rec.readings[blocked] += 1
        elif task.state == "R":
            rec.readings[CPU] += 1

    def _account(
        self, rec: _Thread, task: procfs.TaskStat, blocked: str | None, now: float
    ) -> None:
        dt = max(now - rec.last, 0.0)
        on = min(max(task.cpu_s - rec.cpu, 0.0), dt)
        if task.runqueue_s is not None and rec.runqueue is not None:
            queued = min(max(task.runqueue_s - rec.runqueue, 0.0), dt - on)
        elif task.state == "R" and rec.state == "R":
            queued = dt - on  # no schedstat: runnable at both ends, so it wanted a core
        else:
            queued = 0.0
        off = max(dt - on - queued, 0.0)
        if blocked or task.state in _STOPPED:
            cls = blocked or STOPPED
        elif rec.state in ("S", "D") and rec.blocked:
            cls = rec.blocked
        else:
            cls = STOPPED if rec.state in _STOPPED else UNKNOWN
        rec.seconds[CPU] += on
        rec.seconds[RUNQUEUE] += queued
        rec.seconds[cls] += off
        rec.cpu, rec.runqueue = task.cpu_s, task.runqueue_s
        rec.state, rec.blocked = task.state, blocked
        rec.last = now

    def summary(self, wall_s: float, cores: int) -> dict[str, Any]:
        """Per-thread seconds by class, per-process pools, and the tree's core demand."""
        wall = max(wall_s, 1e-9)
        totals: Counter[str] = Counter()
        threads = []
        for rec in self._threads.values():
            idle = _idle(rec)
            if idle:  # its run-queue time was wake-ups, not demand for a core
                waited = (
                    procfs.PIPE
                    if rec.seconds[procfs.PIPE] > rec.seconds[procfs.SLEEP]
                    else procfs.SLEEP
                )
                rec.seconds[waited] += rec.seconds.pop(RUNQUEUE, 0.0)
            totals.update(rec.seconds)
            threads.append(
                {
                    "tid": rec.tid,
                    "pid": rec.pid,
                    "name": rec.name,
                    "observed_s": round(rec.last - rec.first, 3),
                    **{f"{c}_s": round(rec.seconds[c], 4) for c in CLASSES},
                    "readings": dict(rec.readings),
                    "idle": idle,
                    "calls": dict(rec.calls.most_common(3)),
                }
            )
        demand = sum(_wanted(t) for t in threads) / wall
        processes = []
        for proc in self._procs.values():
            own = [t for t in threads if t["pid"] == proc.pid]
            # over its own life (a pool's workers start after, and end before, the run)
            life = max((t["observed_s"] for t in own), default=0.0) or wall
            wanted = sum(_wanted(t) for t in own) / life
            processes.append(
                {
                    "pid": proc.pid,
                    "name": proc.name,
                    "exe": proc.exe,
                    "python": proc.python,
                    "max_threads": proc.max_threads,
                    "runnable_mean": round(wanted, 3),
                    "observed_s": round(life, 3),
                    "pools": proc.pools,
                    "thread_caps": proc.caps,
                    "all_idle": bool(own) and all(t["idle"] for t in own),
                }
            )
        return {
            "available": True,
            "reason": None,
            "schedstat": bool(self.schedstat),
            "syscalls": self.table is not None,
            "ticks": self.ticks,
            "wall_s": round(wall_s, 3),
            "cores": cores,
            "runnable_mean": round(demand, 3),
            "running_mean": round(totals[CPU] / wall, 3),
            "seconds": {c: round(totals[c], 4) for c in CLASSES},
            "processes": processes,
            "threads": threads,
        }


def _wanted(t: dict[str, Any]) -> float:
    """Seconds a thread wanted a core: its share of un-paused time running or runnable,
    over its life.

    A profiler's pauses take a CPU-bound thread off the run queue, and must not hide its
    demand: paused time is the time seen stopped, and of the time between two runnable
    readings (it stopped or blocked in between), the part the readings suggest was
    stopped (stopped readings over stopped and blocked ones).
    """
    busy = t["cpu_s"] + t["runqueue_s"]
    readings = t.get("readings") or {}
    stops = readings.get(STOPPED, 0)
    blocks = sum(readings.get(c, 0) for c in BLOCKED)
    paused = t["stopped_s"] + (t["unknown_s"] * stops / (stops + blocks) if stops else 0.0)
    known = t["observed_s"] - paused
    if known <= 0 or t["observed_s"] <= 0:
        return busy
    return min(busy / known, 1.0) * t["observed_s"]


def _idle(rec: _Thread) -> bool:
    """Asleep (or on a pipe) at most readings (or most of its time, when seen only once or
    twice), and using little CPU."""
    observed = max(rec.last - rec.first, 1e-9)
    if rec.seconds[CPU] >= _IDLE_CPU * observed:
        return False
    readings = sum(n for c, n in rec.readings.items() if c != STOPPED)
    if readings >= _MIN_READINGS:
        asleep = rec.readings[procfs.SLEEP] + rec.readings[procfs.PIPE]
        return asleep >= IDLE_SHARE * readings
    known = sum(v for c, v in rec.seconds.items() if c not in (STOPPED, UNKNOWN))
    asleep_s = rec.seconds[procfs.SLEEP] + rec.seconds[procfs.PIPE]
    return known > 0 and asleep_s >= IDLE_SHARE * known


def unavailable(reason: str) -> dict[str, Any]:
    """The thread-state view where it cannot run (no /proc: macOS, Windows)."""
    return {"available": False, "reason": reason}
