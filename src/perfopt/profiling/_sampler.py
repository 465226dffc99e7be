"""psutil sampling of a process and all its descendants in a background thread."""

from __future__ import annotations

import logging
import os
import statistics
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import psutil

from perfopt.machine import available_cores
from perfopt.profiling._tstates import ThreadStates, unavailable

logger = logging.getLogger(__name__)

# A process counts as busy when its CPU over its observed life reaches BUSY_CORES, or
# when it was running or runnable in BUSY_RUNNING of its samples (the oversubscription
# check adds up busy processes).
BUSY_CORES = 0.5
BUSY_RUNNING = 0.5
_CMDLINE_CHARS = 120


@dataclass
class _Counters:
    user: float = 0.0
    system: float = 0.0
    read_bytes: int = 0
    write_bytes: int = 0
    ctx_voluntary: int = 0
    ctx_involuntary: int = 0
    iowait: float = 0.0

    def minus(self, other: _Counters) -> _Counters:
        return _Counters(
            *(max(a - b, 0) for a, b in zip(vars(self).values(), vars(other).values(), strict=True))
        )


@dataclass
class _Seen:
    pid: int
    name: str
    cmdline: str
    first_seen: float
    last_seen: float
    base: _Counters
    last: _Counters
    peak_rss: int = 0
    max_threads: int = 0
    samples: int = 0
    running_samples: int = 0
    extra: dict[str, Any] = field(default_factory=dict)


_HAVE_PROC = os.path.isfile("/proc/self/stat")
_FULL_SCAN_EVERY = 50


def _ppid_map(min_pid: int) -> dict[int, int]:
    """Parent pid of every process with a pid above min_pid, from /proc/<pid>/stat."""
    result = {}
    for name in os.listdir("/proc"):
        if not name.isdigit() or int(name) <= min_pid:
            continue
        try:
            with open(f"/proc/{name}/stat", "rb") as f:
                data = f.read()
        except OSError:
            continue
        # "pid (comm) state ppid ...": comm may hold spaces and parentheses.
        fields = data[data.rfind(b")") + 2 :].split()
        if len(fields) > 1:
            result[int(name)] = int(fields[1])
    return result


def _short_cmdline(proc: psutil.Process, name: str) -> str:
    try:
        text = " ".join(proc.cmdline()) or name
    except (psutil.Error, OSError):
        text = name
    text = " ".join(text.split())  # `python -c` code carries newlines
    return text if len(text) <= _CMDLINE_CHARS else text[: _CMDLINE_CHARS - 3] + "..."


def _system_iowait() -> float | None:
    return getattr(psutil.cpu_times(), "iowait", None)


def _system_busy_s() -> float:
    """CPU seconds every process of the machine has used (all CPUs, not idle or iowait)."""
    t = psutil.cpu_times()
    return float(sum(t)) - t.idle - (getattr(t, "iowait", 0.0) or 0.0)


class ProcessTreeSampler:
    """Sample CPU, IO, context switches, threads and RSS of a process tree at `hz`.

    Contract: `start()` takes a first sample at once (processes alive then are measured
    from that moment on, later ones from their start) and starts a daemon thread;
    `stop()` takes a last sample, joins the thread and returns a JSON-able summary. The
    sampler reads the root and all its descendants each tick; a process that starts and
    exits between two ticks is missed, and one that exits is counted up to its last
    tick. To count the tail of the root exactly, stop the sampler while the root is a
    zombie (exited but not yet reaped): `os.waitid(..., WEXITED | WNOWAIT)` does that,
    and the zombie still reports its CPU and that of the children it reaped. Usable as a
    context manager. One sampler is used by one thread; it never signals the target.
    With `thread_states` (Linux), each tick also reads every thread's kernel state
    (`ThreadStates`): the summary's "thread_states" is that fourth view.
    """

    def __init__(self, pid: int, hz: float = 10.0, thread_states: bool = True) -> None:
        if hz <= 0:
            raise ValueError(f"sampling rate must be positive, got {hz}")
        self.pid = pid
        self.hz = float(hz)
        self._seen: dict[tuple[int, float], _Seen] = {}
        self._root_children_base: tuple[float, float] | None = None
        self._root_children_last: tuple[float, float] = (0.0, 0.0)
        self._root_own_last: tuple[float, float] = (0.0, 0.0)
        self._tree_rss: list[int] = []
        self._tree_threads: list[int] = []
        self._runnable: list[int] = []
        self._stop_event = threading.Event()
        self._thread: threading.Thread | None = None
        self._t0 = 0.0
        self._t1 = 0.0
        self._iowait0: float | None = None
        self._busy0 = self._busy1 = 0.0
        self._first = True
        self._summary: dict[str, Any] | None = None
        self._root: psutil.Process | None = None
        self._own_cpu = 0.0  # CPU of the sampling thread (start/stop samples not counted)
        self._procs: dict[int, psutil.Process] = {}
        self._ticks = 0
        self._states: ThreadStates | None = None
        self._states_reason = "turned off"
        if thread_states and _HAVE_PROC:
            self._states = ThreadStates()
        elif thread_states:
            self._states_reason = (
                "no /proc on this system: thread states unavailable, the verdict falls "
                "back to CPU use and py-spy stacks"
            )

    # -- sampling -------------------------------------------------------------------
    def _tree(self) -> list[psutil.Process]:
        if self._root is None:
            return []
        if not _HAVE_PROC:
            try:
                return [self._root, *self._root.children(recursive=True)]
            except psutil.NoSuchProcess:
                return []
            except psutil.Error:
                return [self._root]
        # Reading every process's /proc stat costs about 3 ms a tick here (psutil's
        # children() does that); new descendants get higher pids than the root, so most
        # ticks read only those, and every _FULL_SCAN_EVERY-th tick reads all (pid wrap).
        self._ticks += 1
        full = self._ticks % _FULL_SCAN_EVERY == 0
        children: dict[int, list[int]] = {}
        for pid, ppid in _ppid_map(0 if full else self.pid).items():
            children.setdefault(ppid, []).append(pid)
        found, todo = [], [self.pid]
        while todo:
            pid = todo.pop()
            found.append(pid)
            todo.extend(children.get(pid, ()))
        # Known processes stay watched even if orphaned or skipped by a partial scan.
        pids = dict.fromkeys([*found, *self._procs])
        tree = []
        for pid in pids:
            proc = self._procs.get(pid)
            if proc is None:
                try:
                    proc = self._procs[pid] = psutil.Process(pid)
                except psutil.Error:
                    continue
            tree.append(proc)
        return tree

    def _sample(self) -> None:
        now = time.perf_counter()
        tree_rss = tree_threads = runnable = 0
        pids_seen: list[int] = []
        for proc in self._tree():
            try:
                with proc.oneshot():
                    key = (proc.pid, proc.create_time())
                    times = proc.cpu_times()
                    status = proc.status()
                    rss = proc.memory_info().rss
                    threads = proc.num_threads()
                    ctx = proc.num_ctx_switches()
                    try:
                        io = proc.io_counters()
                    except (psutil.AccessDenied, AttributeError):
                        io = None
            except (psutil.NoSuchProcess, psutil.AccessDenied):
                continue
            pids_seen.append(proc.pid)
            counters = _Counters(
                user=times.user,
                system=times.system,
                read_bytes=io.read_bytes if io else 0,
                write_bytes=io.write_bytes if io else 0,
                ctx_voluntary=ctx.voluntary,
                ctx_involuntary=ctx.involuntary,
                iowait=getattr(times, "iowait", 0.0) or 0.0,
            )
            seen = self._seen.get(key)
            if seen is None:
                try:
                    name = proc.name()
                except psutil.Error:
                    name = "?"
                seen = self._seen[key] = _Seen(
                    pid=proc.pid,
                    name=name,
                    cmdline=_short_cmdline(proc, name),
                    first_seen=now,
                    last_seen=now,
                    # Alive at start(): measure from now on, not since it was born.
                    base=counters if self._first else _Counters(),
                    last=counters,
                )
            elif seen.samples < 3 and status != psutil.STATUS_ZOMBIE:
                # Seen right after fork, a child may not have exec'd yet: look again.
                try:
                    seen.name = proc.name()
                    seen.cmdline = _short_cmdline(proc, seen.name)
                except psutil.Error:
                    pass
            seen.last = counters
            seen.last_seen = now
            seen.samples += 1
            seen.peak_rss = max(seen.peak_rss, rss)
            seen.max_threads = max(seen.max_threads, threads)
            if status == psutil.STATUS_RUNNING:
                seen.running_samples += 1
                runnable += 1
            tree_rss += rss
            tree_threads += threads
            if proc.pid == self.pid:
                children = (times.children_user, times.children_system)
                if self._root_children_base is None:
                    self._root_children_base = children
                self._root_children_last = children
                self._root_own_last = (times.user, times.system)
        if self._states is not None:
            self._states.tick(pids_seen)
        self._tree_rss.append(tree_rss)
        self._tree_threads.append(tree_threads)
        self._runnable.append(runnable)
        self._first = False

    def _loop(self) -> None:
        # CPU of the sampling thread, read twice only: thread_time() itself costs about
        # 1 ms a call in this sandbox, more than a tick's work.
        cpu0 = time.thread_time()
        try:
            self._ticking()
        finally:
            self._own_cpu = time.thread_time() - cpu0

    def _ticking(self) -> None:
        interval = 1.0 / self.hz
        next_tick = time.perf_counter() + interval
        while not self._stop_event.wait(max(next_tick - time.perf_counter(), 0.0)):
            try:
                self._sample()
            except Exception:  # a sampler must never kill the run it watches
                logger.exception("psutil sample of pid %d failed", self.pid)
            next_tick += interval
            if next_tick < time.perf_counter():  # fell behind (busy machine): skip ticks
                next_tick = time.perf_counter() + interval

    # -- public ---------------------------------------------------------------------
    def start(self) -> None:
        """Take the first sample and start sampling in a background thread."""
        if self._thread is not None:
            raise RuntimeError("sampler already started")
        try:
            self._root = psutil.Process(self.pid)
            self._procs[self.pid] = self._root
        except psutil.NoSuchProcess:
            logger.warning("process %d is gone before sampling started", self.pid)
            self._root = None
        self._t0 = time.perf_counter()
        self._iowait0 = _system_iowait()
        self._busy0 = _system_busy_s()
        self._sample()
        self._thread = threading.Thread(
            target=self._loop, name=f"perfopt-psutil-{self.pid}", daemon=True
        )
        self._thread.start()

    def stop(self) -> dict[str, Any]:
        """Take a last sample, stop the thread and return the summary (idempotent)."""
        if self._summary is not None:
            return self._summary
        if self._thread is None:
            raise RuntimeError("sampler was not started")
        self._stop_event.set()
        self._thread.join()
        self._sample()
        self._t1 = time.perf_counter()
        self._busy1 = _system_busy_s()
        iowait1 = _system_iowait()
        self._summary = self._summarize(
            None if self._iowait0 is None or iowait1 is None else iowait1 - self._iowait0
        )
        return self._summary

    def __enter__(self) -> ProcessTreeSampler:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- summary --------------------------------------------------------------------
    def _summarize(self, iowait: float | None) -> dict[str, Any]:
        wall = max(self._t1 - self._t0, 1e-9)
        interval = 1.0 / self.hz
        processes = []
        total = _Counters()
        for seen in self._seen.values():
            delta = seen.last.minus(seen.base)
            total = _Counters(
                *(a + b for a, b in zip(vars(total).values(), vars(delta).values(), strict=True))
            )
            lifetime = max(seen.last_seen - seen.first_seen, interval)
            cpu = delta.user + delta.system
            running_share = seen.running_samples / max(seen.samples, 1)
            processes.append(
                {
                    "pid": seen.pid,
                    "name": seen.name,
                    "cmdline": seen.cmdline,
                    "cpu_user_s": round(delta.user, 3),
                    "cpu_system_s": round(delta.system, 3),
                    "peak_rss_bytes": seen.peak_rss,
                    "max_threads": seen.max_threads,
                    "read_bytes": delta.read_bytes,
                    "write_bytes": delta.write_bytes,
                    "ctx_switches_voluntary": delta.ctx_voluntary,
                    "ctx_switches_involuntary": delta.ctx_involuntary,
                    "first_seen_s": round(seen.first_seen - self._t0, 3),
                    "last_seen_s": round(seen.last_seen - self._t0, 3),
                    "cpu_cores": round(cpu / lifetime, 3),
                    # Runnable (state R) counts too: on a loaded machine a process that
                    # wants a core may get less than half of one.
                    "busy": cpu / lifetime >= BUSY_CORES or running_share >= BUSY_RUNNING,
                    "running_share": round(running_share, 3),
                }
            )
        user, system = total.user, total.system
        # Children that exited between ticks were counted only up to their last tick;
        # the root's reaped-children counters hold their full time, so take the larger.
        if self._root_children_base is not None:
            root_base = next(
                (s.base for s in self._seen.values() if s.pid == self.pid), _Counters()
            )
            via_root_user = (
                self._root_own_last[0]
                - root_base.user
                + self._root_children_last[0]
                - self._root_children_base[0]
            )
            via_root_system = (
                self._root_own_last[1]
                - root_base.system
                + self._root_children_last[1]
                - self._root_children_base[1]
            )
            if via_root_user + via_root_system > user + system:
                user, system = via_root_user, via_root_system
        cores = available_cores(self.pid)
        cpu_cores = (user + system) / wall
        # What the rest of the machine did meanwhile (other jobs, the watchers): a parallel
        # ratio measured while others held the cores says little about the code.
        busy = (self._busy1 - self._busy0) / wall
        others = max(0.0, busy - cpu_cores - self._own_cpu / wall)
        return {
            "hz": self.hz,
            "samples": len(self._runnable),
            "wall_s": round(wall, 3),
            "cpu_user_s": round(user, 3),
            "cpu_system_s": round(system, 3),
            "cpu_utilization_cores": round(cpu_cores, 3),
            "cores_available": cores,
            "utilization_pct_of_available": round(100.0 * cpu_cores / cores, 1),
            "system_busy_cores": round(busy, 3),
            "other_busy_cores": round(others, 3),
            "iowait_s": None if iowait is None else round(iowait, 3),
            "iowait_scope": "system-wide (all processes, summed over CPUs)",
            "process_iowait_s": round(total.iowait, 3),
            "read_bytes": total.read_bytes,
            "write_bytes": total.write_bytes,
            "ctx_switches_voluntary": total.ctx_voluntary,
            "ctx_switches_involuntary": total.ctx_involuntary,
            "max_threads": max(self._tree_threads, default=0),
            "peak_rss_bytes": max(self._tree_rss, default=0),
            "sampler_cpu_s": round(self._own_cpu, 4),
            "runnable_mean": round(statistics.fmean(self._runnable), 2) if self._runnable else 0.0,
            "processes": processes,
            "thread_states": (
                self._states.summary(wall, cores)
                if self._states is not None
                else unavailable(self._states_reason)
            ),
        }
