"""Start cell processes by forking a warm interpreter instead of starting a new one.

Before a cell's child can run, it imports its workload: torch and torch._dynamo take
about 4 s of CPU, optuna and numba about 1.5 s on a 2-core machine, and a matrix of 26
cells x 3 repeats pays that 78 times (the child reports it as `preload_s`; it is never
timed, but it is most of what the quick matrix spends besides the work). A launcher is
a fork server, as multiprocessing's forkserver: one interpreter per workload and
environment imports the workload and its `preload` modules once, then idles and forks
one process per repeat.

Each forked process is still a fresh run: its own pid and session, memory shared with
the launcher only copy-on-write, and no state from other repeats, since the launcher
never runs a workload, only imports it (nothing there starts a thread or a pool). What
the forked process keeps from the launcher, a new interpreter would have rebuilt the
same way: imported modules, and the hash seed of str keys (fixed for the launcher's
children; Python's and numpy's global random generators are reseeded in each child).
The environment is part of a launcher's key: BLAS, OpenMP and numba read their thread
caps when they load, so a cell with other caps gets its own launcher.

Protocol: the parent and the launcher share a UNIX socket. The parent sends "fork" with
four descriptors (SCM_RIGHTS): the child's stdin, stdout, stderr and its ready pipe.
The launcher forks, answers "pid N", and later "exit N CODE" when that child ends
(CODE as subprocess's returncode: -signal when killed). End of file on the socket
(the parent exited or closed it) ends the launcher; its children then get SIGKILL
(PR_SET_PDEATHSIG), as cells started by the parent do when the parent dies.

Linux only (fd passing, prctl, pidfd); elsewhere cells start as new interpreters.
"""

from __future__ import annotations

import contextlib
import logging
import os
import select
import signal
import socket
import subprocess
import sys
import time
from typing import IO, Any

from perfopt.harness import processes

log = logging.getLogger(__name__)
_MAX_FDS = 4


def supported() -> bool:
    """Whether cells can be forked from a launcher here (Linux with fd passing)."""
    return sys.platform.startswith("linux") and hasattr(socket, "send_fds")


class ForkedCell:
    """A cell process forked by a launcher, with the part of Popen's API the runner uses."""

    def __init__(self, launcher: Launcher, pid: int, stdin: IO[bytes]) -> None:
        self._launcher = launcher
        self.pid = pid
        self.stdin: IO[bytes] | None = stdin
        self.returncode: int | None = None

    def poll(self) -> int | None:
        """The exit code if the process has ended, else None (never blocks)."""
        if self.returncode is None:
            self._launcher.collect(self, timeout=0.0)
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        """Wait for the exit code; subprocess.TimeoutExpired after `timeout` seconds."""
        if self.returncode is None:
            self._launcher.collect(self, timeout=timeout)
        if self.returncode is None:
            raise subprocess.TimeoutExpired(f"cell pid {self.pid}", timeout or 0.0)
        return self.returncode


class Launcher:
    """One warm interpreter that forks cell processes for one workload and environment."""

    def __init__(self, import_path: str, env: dict[str, str], warm_timeout: float) -> None:
        parent_end, child_end = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        self._sock = parent_end
        self._buf = b""
        self._exits: dict[int, int] = {}
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "perfopt.harness.launcher",
                import_path,
                str(child_end.fileno()),
            ],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env=env,
            pass_fds=(child_end.fileno(),),
            start_new_session=True,  # a terminal's Ctrl-C is the parent's to forward
            preexec_fn=processes.cell_preexec(),
        )
        child_end.close()
        try:
            words = self._line(timeout=warm_timeout).split()
        except OSError:
            self.close()
            raise
        if words[:1] != [b"ready"]:
            self.close()
            raise OSError(f"the cell launcher of {import_path} did not start ({words!r})")
        if int(words[1]) > 1:
            # A Python thread started at import may hold a lock at the fork, and the
            # forked run would wait on it forever: such a workload starts new interpreters.
            self.close()
            raise OSError(
                f"importing {import_path} and its preload modules started "
                f"{int(words[1]) - 1} Python thread(s); forking after that is unsafe"
            )

    def alive(self) -> bool:
        """Whether the launcher process still runs."""
        return self.proc.poll() is None

    def start(self, stdout: IO[bytes], stderr: IO[bytes], ready_w: int) -> ForkedCell:
        """Fork a cell process; its stdin is a new pipe whose write end the caller gets."""
        stdin_r, stdin_w = os.pipe()
        try:
            socket.send_fds(
                self._sock, [b"fork\n"], [stdin_r, stdout.fileno(), stderr.fileno(), ready_w]
            )
            words = self._line(timeout=30.0).split()
            while words[:1] == [b"exit"] and len(words) == 3:  # a late report of an earlier cell
                self._exits[int(words[1])] = int(words[2])
                words = self._line(timeout=30.0).split()
        finally:
            os.close(stdin_r)
        if words[:1] != [b"pid"]:
            os.close(stdin_w)
            raise OSError(f"the cell launcher did not fork (answer {words!r})")
        return ForkedCell(self, int(words[1]), os.fdopen(stdin_w, "wb"))

    def collect(self, cell: ForkedCell, timeout: float | None) -> None:
        """Read the launcher's exit reports until `cell` has one or `timeout` passes."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while cell.pid not in self._exits:
            remaining = None if deadline is None else max(0.0, deadline - time.monotonic())
            try:
                words = self._line(timeout=remaining).split()
            except TimeoutError:
                return
            except OSError:  # the launcher is gone, and its children with it (PDEATHSIG)
                self._exits[cell.pid] = -signal.SIGKILL
                break
            if words[:1] == [b"exit"] and len(words) == 3:
                self._exits[int(words[1])] = int(words[2])
        cell.returncode = self._exits.pop(cell.pid)

    def close(self) -> None:
        """End the launcher (end of file on its socket) and wait for it."""
        with contextlib.suppress(OSError):
            self._sock.close()
        try:
            self.proc.wait(timeout=5.0)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()

    def _line(self, timeout: float | None) -> bytes:
        """One answer line; TimeoutError when none came in time, OSError when gone."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while b"\n" not in self._buf:
            remaining = None if deadline is None else max(0.0, deadline - time.monotonic())
            readable, _, _ = select.select([self._sock], [], [], remaining)
            if not readable:
                raise TimeoutError("no answer from the cell launcher")
            chunk = self._sock.recv(4096)
            if not chunk:
                raise OSError("the cell launcher exited")
            self._buf += chunk
        line, _, self._buf = self._buf.partition(b"\n")
        return line


class Launchers:
    """The launchers of one matrix run, by workload and environment; closed at the end."""

    def __init__(self, warm_timeout: float = 600.0) -> None:
        self.warm_timeout = warm_timeout
        self._by_key: dict[tuple[str, tuple[tuple[str, str], ...]], Launcher] = {}
        self._refused: dict[tuple[str, tuple[tuple[str, str], ...]], str] = {}

    def get(self, import_path: str, env: dict[str, str]) -> Launcher:
        """The running launcher for this workload and environment (started if needed).

        OSError when there can be none (its imports start threads, or it failed to
        start): the caller starts a new interpreter instead, and asks again next time
        only if the launcher died, not if it was refused.
        """
        key = (import_path, tuple(sorted(env.items())))
        if key in self._refused:
            raise OSError(self._refused[key])
        launcher = self._by_key.get(key)
        if launcher is None or not launcher.alive():
            if launcher is not None:
                launcher.close()
            try:
                launcher = self._by_key[key] = Launcher(import_path, env, self.warm_timeout)
            except OSError as exc:
                self._by_key.pop(key, None)
                self._refused[key] = str(exc)
                log.warning("%s: its runs start as new interpreters", exc)
                raise
        return launcher

    def close(self) -> None:
        """End every launcher."""
        for launcher in self._by_key.values():
            launcher.close()
        self._by_key.clear()


# ---- the launcher process: python -m perfopt.harness.launcher IMPORT_PATH SOCKET_FD ----


def _warm(import_path: str) -> None:
    """Import the workload and its preload modules; a failure is the child's to report."""
    import importlib

    with contextlib.suppress(Exception):
        from perfopt.harness.registry import load_class

        workload = load_class(import_path)
        for module in getattr(workload, "preload", ()):
            with contextlib.suppress(Exception):
                importlib.import_module(module)
    import perfopt.harness.child  # noqa: F401 - what every forked process runs


def _python_threads() -> int:
    """Python threads alive now (native pools such as OpenBLAS' handle fork themselves)."""
    import threading

    return threading.active_count()


def _become_cell(sock: socket.socket, fds: list[int], inherited: list[int], preexec: Any) -> None:
    """In the forked process: become a cell process like a new one, run it, exit."""
    code = 1
    try:
        sock.close()
        for fd in inherited:  # the launcher's handles on other children
            os.close(fd)
        os.setsid()  # its own session and group, as the runner's Popen gives its cells
        if preexec is not None:
            preexec()  # subreaper; SIGKILL when the launcher dies (it exits if it already did)
        stdin_r, out, err, ready_w = fds
        for fd, target in ((stdin_r, 0), (out, 1), (err, 2)):
            os.dup2(fd, target)
            os.close(fd)
        os.set_inheritable(ready_w, True)
        for signum in (signal.SIGTERM, signal.SIGHUP, signal.SIGCHLD):
            signal.signal(signum, signal.SIG_DFL)
        signal.signal(signal.SIGINT, signal.default_int_handler)
        _reseed()
        from perfopt.harness import child

        code = child.main(["--ready-fd", str(ready_w)])
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    except BaseException:  # noqa: BLE001 - reported on the cell's stderr
        import traceback

        traceback.print_exc()
    finally:
        # What a normal interpreter exit does: atexit handlers (multiprocessing joins
        # its children there), then flushed streams; never back into the server loop.
        with contextlib.suppress(BaseException):
            import atexit

            atexit._run_exitfuncs()
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(BaseException):
                stream.flush()
        os._exit(code)


def _reseed() -> None:
    """New random state, as a new interpreter would have (the fork copied the launcher's)."""
    import random

    random.seed()
    numpy = sys.modules.get("numpy")
    if numpy is not None:
        with contextlib.suppress(Exception):
            numpy.random.seed()


def serve(import_path: str, sock_fd: int) -> int:
    """The launcher's loop: fork on request, report exits, end on end of file."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    sock = socket.socket(fileno=sock_fd)
    _warm(import_path)
    sock.sendall(f"ready {_python_threads()}\n".encode())
    preexec = processes.cell_preexec()  # built here: it checks that its parent is us
    children: dict[int, int] = {}  # pidfd -> pid
    while True:
        readable, _, _ = select.select([sock, *children], [], [])
        for pidfd in [fd for fd in readable if fd in children]:
            pid = children.pop(pidfd)
            os.close(pidfd)
            _, status = os.waitpid(pid, 0)
            sock.sendall(f"exit {pid} {os.waitstatus_to_exitcode(status)}\n".encode())
        if sock not in readable:
            continue
        msg, fds, _, _ = socket.recv_fds(sock, 64, _MAX_FDS)
        if not msg:
            return 0  # the parent is gone or done
        if len(fds) != _MAX_FDS:
            for fd in fds:
                os.close(fd)
            sock.sendall(b"error expected 4 descriptors\n")
            continue
        sys.stdout.flush()
        sys.stderr.flush()
        pid = os.fork()
        if pid == 0:
            _become_cell(sock, fds, list(children), preexec)
        for fd in fds:
            os.close(fd)
        children[os.pidfd_open(pid)] = pid
        sock.sendall(f"pid {pid}\n".encode())


if __name__ == "__main__":
    sys.exit(serve(sys.argv[1], int(sys.argv[2])))
