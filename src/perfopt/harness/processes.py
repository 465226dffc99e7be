"""A cell's processes end with the cell, whatever happens to the parent.

A cell runs in its own session (its own process group), so a terminal's Ctrl-C does not
reach it and the runner kills the group by its id. Three ways processes could outlive
their cell, and what closes each:

- **a descendant that changed session** (`setsid`, `start_new_session=True`) leaves the
  group, so killing the group misses it. The cell's process is a child subreaper
  (PR_SET_CHILD_SUBREAPER): a descendant whose parent exits is re-parented to it, not to
  init, so it stays in the cell's tree. A watchdog process records that tree (pid and
  start time) every `POLL_S` seconds, and a kill reaches the group and every recorded
  process still alive.
- **the parent is killed** (SIGKILL, OOM killer): no cleanup code runs. The cell's
  process gets SIGKILL from the kernel (PR_SET_PDEATHSIG; it fires when the thread that
  started the cell ends, so start cells from a thread that lives as long as the run),
  and the watchdog, which holds the read end of a pipe whose only writer is the parent,
  sees end of file and kills the cell's group and every recorded process, then exits.
  It runs in its own session, so signals meant for the parent's group do not reach it.
- **the parent is asked to stop** (SIGTERM, SIGHUP: a job scheduler, a closed
  terminal): `forward_signals()` turns the signal into `Terminated` in the parent,
  which the runner handles like Ctrl-C: the cell's group gets the same signal, then
  `STOP_GRACE_S` seconds to exit, then SIGKILL; the command exits with 128 + signal.

A process that leaves the tree of a dead cell process within `POLL_S` of its start
can still escape the watchdog after the parent was SIGKILLed; while the cell's process
lives, nothing leaves its tree.

The runner starts a cell with `preexec_fn=cell_preexec()`, calls `guard(proc)` after
starting it, `end_cell(proc)` to kill it, and `release(proc)` when done with it.
Linux only (prctl, psutil process trees); elsewhere the process-group kill remains.
"""

from __future__ import annotations

import atexit
import contextlib
import logging
import os
import select
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any

log = logging.getLogger(__name__)

POLL_S = 0.5
_PR_SET_PDEATHSIG = 1
_PR_SET_CHILD_SUBREAPER = 36
STOP_GRACE_S = 10.0
_ANSWER_S = 30.0
_GUARDS: dict[int, CellGuard] = {}
_received: list[int] = []  # termination signals received while forwarding is on
_STOPPED: list[subprocess.Popen[bytes]] = []  # watchdogs told to stop, not yet reaped


class Terminated(KeyboardInterrupt):
    """SIGTERM or SIGHUP reached the parent; the running cell gets the same signal."""

    def __init__(self, signum: int) -> None:
        super().__init__(f"received {signal.Signals(signum).name}")
        self.signum = signum
        self.exit_code = 128 + signum


class CellGuard:
    """The watchdog of one cell process: tracks its tree, kills it on demand or orphaned."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.watchdog = subprocess.Popen(
            [sys.executable, "-m", "perfopt.harness.processes", str(pid)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            start_new_session=True,  # out of reach of the signals sent to our group
            close_fds=True,
        )

    def kill(self, signum: int = signal.SIGKILL, grace: float = 0.0) -> None:
        """Send signum to the cell's group and tree; SIGKILL what remains after grace."""
        if not self._ask(f"kill {int(signum)} {grace:g}", timeout=grace + _ANSWER_S):
            _signal_group(self.pid, signum)  # the watchdog is gone: do what we can here
            if signum != signal.SIGKILL:
                time.sleep(min(grace, 1.0))
                _signal_group(self.pid, signal.SIGKILL)

    def close(self) -> None:
        """Stop the watchdog (the cell is over)."""
        if self._ask("stop", timeout=5.0):
            # It answered and is exiting: reaped later (_reap_stopped), not waited for
            # here, since an interpreter's exit costs each repeat about 0.1 s.
            _STOPPED.append(self.watchdog)
            return
        if self.watchdog.poll() is None:
            self.watchdog.kill()
        self.watchdog.wait()

    def _ask(self, line: str, timeout: float) -> bool:
        """Send a command line and wait for the watchdog's answer; False if it is gone."""
        stdin, stdout = self.watchdog.stdin, self.watchdog.stdout
        if stdin is None or stdout is None or stdin.closed:
            return False
        try:
            stdin.write(line.encode() + b"\n")
            stdin.flush()
        except (BrokenPipeError, OSError):
            return False
        readable, _, _ = select.select([stdout], [], [], timeout)
        return bool(readable) and stdout.readline().strip() == b"done"


def cell_preexec() -> Any:
    """A preexec_fn for a cell's Popen: subreaper, SIGKILL when we die (None off Linux).

    Everything is looked up here, in the parent: between fork and exec the child only
    calls prctl.
    """
    if not sys.platform.startswith("linux"):
        return None
    import ctypes

    try:
        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None
    parent, kill = os.getpid(), int(signal.SIGKILL)

    def preexec() -> None:
        prctl(_PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
        prctl(_PR_SET_PDEATHSIG, kill, 0, 0, 0)
        if os.getppid() != parent:  # the parent died before the line above
            os._exit(1)

    return preexec


def _reap_stopped(wait: bool = False) -> None:
    """Collect the exit of watchdogs told to stop (all of them when `wait`)."""
    for watchdog in list(_STOPPED):
        if wait:
            try:
                watchdog.wait(timeout=5.0)
            except subprocess.TimeoutExpired:
                watchdog.kill()
                watchdog.wait()
        if watchdog.poll() is not None:
            _STOPPED.remove(watchdog)


atexit.register(_reap_stopped, True)


def guard(proc: subprocess.Popen[Any]) -> None:
    """Start watching a freshly started cell process (its own session leader)."""
    _reap_stopped()
    try:
        _GUARDS[proc.pid] = CellGuard(proc.pid)
    except OSError as exc:  # no watchdog: the group kill still works
        log.warning("cannot start the watchdog of cell pid %d: %s", proc.pid, exc)


def end_cell(proc: subprocess.Popen[Any]) -> None:
    """Kill the cell's group and every process of its tree, also those that left it.

    After SIGTERM/SIGHUP reached this process (forward_signals), the cell gets that
    signal and STOP_GRACE_S seconds first; otherwise SIGKILL at once.
    """
    signum, grace = (_received[0], STOP_GRACE_S) if _received else (signal.SIGKILL, 0.0)
    watchdog = _GUARDS.get(proc.pid)
    if watchdog is not None:
        watchdog.kill(signum, grace)
    else:
        _signal_group(proc.pid, signal.SIGKILL)


def release(proc: subprocess.Popen[Any]) -> None:
    """Stop watching a cell whose processes are gone."""
    watchdog = _GUARDS.pop(proc.pid, None)
    if watchdog is not None:
        watchdog.close()


@contextlib.contextmanager
def forward_signals() -> Iterator[None]:
    """Turn SIGTERM and SIGHUP into Terminated here; end_cell forwards them to the cell."""
    if sys.platform == "win32":
        yield
        return

    def handler(signum: int, frame: object) -> None:
        first = not _received
        _received.append(signum)
        if first:  # later signals must not interrupt the cleanup of the first
            raise Terminated(signum)

    previous = {s: signal.signal(s, handler) for s in (signal.SIGTERM, signal.SIGHUP)}
    try:
        yield
    finally:
        for signum, old in previous.items():
            signal.signal(signum, old)
        _received.clear()


def _signal_group(pgid: int, signum: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signum)


# ---- the watchdog process: python -m perfopt.harness.processes ROOT_PID ----


def _snapshot(root: int, seen: dict[int, float]) -> None:
    """Add the root's live descendants (pid -> start time) to `seen`."""
    import psutil

    try:
        children = psutil.Process(root).children(recursive=True)
    except psutil.Error:
        return
    for child in children:
        with contextlib.suppress(psutil.Error):
            seen.setdefault(child.pid, child.create_time())


def _alive(seen: dict[int, float]) -> list[Any]:
    """The recorded processes that still run (same pid and start time, not zombies)."""
    import psutil

    alive = []
    for pid, started in seen.items():
        try:
            p = psutil.Process(pid)
            if p.create_time() == started and p.status() != psutil.STATUS_ZOMBIE:
                alive.append(p)
        except psutil.Error:
            continue
    return alive


def _kill_all(root: int, seen: dict[int, float], signum: int, grace: float) -> None:
    _snapshot(root, seen)
    _signal_group(root, signum)
    for p in _alive(seen):
        with contextlib.suppress(Exception):
            p.send_signal(signum)
    if signum == signal.SIGKILL:
        return
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline and (_alive(seen) or _group_alive(root)):
        time.sleep(0.05)
    _kill_all(root, seen, signal.SIGKILL, 0.0)


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except (ProcessLookupError, PermissionError):
        return False
    return True


def watch(root: int) -> int:
    """Watchdog loop: record the tree; obey kill/stop lines; on end of file, kill all."""
    import psutil

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    seen: dict[int, float] = {}
    with contextlib.suppress(psutil.Error):
        seen[root] = psutil.Process(root).create_time()
    stdin = sys.stdin.buffer
    while True:
        _snapshot(root, seen)
        readable, _, _ = select.select([stdin], [], [], POLL_S)
        if not readable:
            continue
        line = stdin.readline()
        if not line:  # the parent died: nobody else will clean up
            _kill_all(root, seen, signal.SIGKILL, 0.0)
            return 0
        words = line.split()
        if words[:1] == [b"kill"] and len(words) == 3:
            _kill_all(root, seen, int(words[1]), float(words[2]))
        with contextlib.suppress(BrokenPipeError):
            sys.stdout.buffer.write(b"done\n")
            sys.stdout.buffer.flush()
        if words[:1] == [b"stop"]:
            return 0


if __name__ == "__main__":
    sys.exit(watch(int(sys.argv[1])))
