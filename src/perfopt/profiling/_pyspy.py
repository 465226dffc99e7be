"""py-spy recording of a process tree, and the check that py-spy can run here at all."""

from __future__ import annotations

import functools
import logging
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import psutil

from perfopt.profiling._classify import classify_stacks

logger = logging.getLogger(__name__)

_warned: set[str] = set()
# py-spy notices its target's exit at its next sample; give it this long before SIGINT.
_EXIT_GRACE_S = 5.0
_STOP_TIMEOUT_S = 15.0


def _warn_once(reason: str) -> None:
    if reason not in _warned:
        _warned.add(reason)
        logger.warning("py-spy view skipped: %s", reason)


def _last_line(text: str) -> str:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    # py-spy prints "Error: ..." followed by a Rust backtrace; the error line says why.
    errors = [line for line in lines if line.startswith("Error")]
    return (errors or lines or ["no output"])[0 if errors else -1]


def _dump_self(exe: str, native: bool) -> str | None:
    """Dump our own stack with py-spy; None when it worked, else why not."""
    cmd = [exe, "dump", "--pid", str(os.getpid())] + (["--native"] if native else [])
    try:
        result = subprocess.run(
            cmd, capture_output=True, text=True, timeout=30, stdin=subprocess.DEVNULL
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"{exe} could not run: {exc}"
    if result.returncode != 0:
        return _last_line(result.stderr + result.stdout)
    return None


@functools.lru_cache(maxsize=8)
def _permission_check(exe: str) -> tuple[str | None, str | None]:
    """(why py-spy cannot read processes, why --native does not work), None when fine.

    Dumping our own stack needs the same ptrace rights as any target; with --native it
    also shows that native unwinding works here.
    """
    native_failure = _dump_self(exe, native=True)
    if native_failure is None:
        return None, None
    failure = _dump_self(exe, native=False)
    if failure is not None:
        return (
            f"{exe} cannot read other processes ({failure}); "
            "run as root, set kernel.yama.ptrace_scope=0, or give py-spy CAP_SYS_PTRACE"
        ), None
    return None, f"py-spy --native failed here ({native_failure})"


def native_status() -> tuple[bool, str | None]:
    """Return (True, None) if py-spy can record native frames here, else (False, why)."""
    exe = find_pyspy()
    if exe is None:
        return False, "py-spy not found"
    failure, native_failure = _permission_check(exe)
    if failure or native_failure:
        return False, failure or native_failure
    return True, None


def find_pyspy() -> str | None:
    """Return the py-spy executable: $PERFOPT_PYSPY, else PATH, else beside this Python.

    The last place matters for `.venv/bin/perfopt` run without activating the venv:
    pip put py-spy in that same bin folder, which is then not on PATH.
    """
    if "PERFOPT_PYSPY" in os.environ:
        explicit = os.environ["PERFOPT_PYSPY"]
        return explicit if explicit and os.access(explicit, os.X_OK) else None
    beside = os.path.dirname(sys.executable)
    return shutil.which("py-spy") or shutil.which("py-spy", path=beside)


def pyspy_available() -> tuple[bool, str | None]:
    """Return (True, None) if py-spy is found and may read processes, else (False, why).

    The first failure for each reason is logged once as a warning.
    """
    exe = find_pyspy()
    if exe is None:
        reason = (
            "py-spy not found on PATH, beside this Python or in $PERFOPT_PYSPY "
            "(install it with `pip install py-spy`)"
        )
    else:
        reason = _permission_check(exe)[0]
    if reason is not None:
        _warn_once(reason)
        return False, reason
    return True, None


def _unavailable(reason: str, raw_path: Path | None = None) -> dict[str, Any]:
    return {
        "available": False,
        "reason": reason,
        "native": False,
        "samples": 0,
        "categories": {},
        "top_functions": [],
        "processes": [],
        "raw_path": str(raw_path) if raw_path else None,
    }


class PySpyRecorder:
    """Record `py-spy record --subprocesses --idle --threads --format raw` on a process tree.

    Contract: `start()` launches py-spy against `pid` (call it right after starting the
    target); `stop()` waits for py-spy to finish (it exits when its target does; if the
    target still runs, py-spy gets SIGINT so it writes its file), then classifies the
    samples. Idle threads are sampled too (`--idle`), so waiting shows up as its own
    category. If py-spy is missing, not permitted, or fails on this target, `stop()`
    returns `available: False` with the reason and the run goes on. Usable as a context
    manager. py-spy runs in its own session, so a terminal Ctrl-C does not reach it.

    Native frames (`--native`, C functions under the Python frames: BLAS, sqlite3,
    socket and file calls) are recorded where py-spy can unwind them here and the
    target may be paused (`native=None`, the default); `--nonblocking` cannot read
    them. Without them the summary says why (`native_reason`).
    """

    def __init__(
        self,
        pid: int,
        out_dir: Path,
        rate: int = 50,
        nonblocking: bool = False,
        native: bool | None = None,
    ) -> None:
        if rate <= 0:
            raise ValueError(f"py-spy rate must be positive, got {rate}")
        self.pid = pid
        self.out_dir = Path(out_dir)
        self.rate = int(rate)
        self.nonblocking = nonblocking
        self.native = False
        self.native_reason: str | None = None
        if native is False:
            self.native_reason = "turned off"
        elif nonblocking:
            self.native_reason = (
                "--nonblocking: py-spy reads native stacks only while the target is paused"
            )
        else:
            self.native, self.native_reason = native_status()
        self.raw_path = self.out_dir / f"pyspy-{pid}.txt"
        self.log_path = self.out_dir / f"pyspy-{pid}.log"
        self._proc: subprocess.Popen[bytes] | None = None
        self._reason: str | None = None
        self._summary: dict[str, Any] | None = None
        self._cpu_s: float | None = None

    def command(self, exe: str = "py-spy") -> list[str]:
        """Return the py-spy command line this recorder runs."""
        cmd = [
            exe, "record", "--subprocesses", "--idle", "--format", "raw",
            "--rate", str(self.rate), "--full-filenames", "--threads",
            "--pid", str(self.pid), "-o", str(self.raw_path),
        ]  # fmt: skip
        if self.nonblocking:
            cmd.append("--nonblocking")
        if self.native:
            cmd.append("--native")
        return cmd

    def start(self) -> None:
        """Start py-spy on the target (or note why it cannot run)."""
        if self._proc is not None or self._reason is not None:
            raise RuntimeError("py-spy recorder already started")
        ok, reason = pyspy_available()
        if not ok:
            self._reason = reason
            return
        self.out_dir.mkdir(parents=True, exist_ok=True)
        self._launch()

    def _launch(self) -> None:
        exe = find_pyspy() or "py-spy"
        with open(self.log_path, "wb") as log:
            self._proc = subprocess.Popen(
                self.command(exe),
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )

    def wait_sampling(self, timeout: float = 5.0) -> bool:
        """Wait until py-spy says it samples the target; False if it exited or timed out.

        py-spy takes a moment to attach: a target told to start at once would run its
        first tenths of a second unwatched. If py-spy --native gave up on this target
        while the target still runs, py-spy starts again without native frames, and the
        summary's `native_reason` says so.
        """
        if self._proc is None:
            return False
        deadline = time.perf_counter() + timeout
        while time.perf_counter() < deadline:
            if b"Sampling process" in self.log_path.read_bytes():
                return True
            # WNOWAIT: look without reaping, so _wait can still collect py-spy's CPU use
            if os.waitid(os.P_PID, self._proc.pid, os.WEXITED | os.WNOWAIT | os.WNOHANG):
                if not (self.native and _not_zombie(self.pid)):
                    return False
                failure = _last_line(self.log_path.read_text(errors="replace"))
                self._wait(1.0)
                self.native = False
                self.native_reason = f"py-spy --native failed on this target ({failure})"
                logger.warning("%s; recording without native frames", self.native_reason)
                self._launch()
            time.sleep(0.01)
        return False

    def _wait(self, timeout: float) -> bool:
        """Wait for py-spy to exit and reap it, keeping its CPU use; False on timeout."""
        proc = self._proc
        assert proc is not None
        deadline = time.perf_counter() + timeout
        while os.waitid(os.P_PID, proc.pid, os.WEXITED | os.WNOWAIT | os.WNOHANG) is None:
            if time.perf_counter() > deadline:
                return False
            time.sleep(0.01)
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
        self._cpu_s = usage.ru_utime + usage.ru_stime
        return True

    def _finish(self) -> None:
        proc = self._proc
        assert proc is not None
        target_alive = psutil.pid_exists(self.pid) and _not_zombie(self.pid)
        if self._wait(_EXIT_GRACE_S if not target_alive else 0.05):
            return
        proc.send_signal(signal.SIGINT)
        if not self._wait(_STOP_TIMEOUT_S):
            logger.warning("py-spy (pid %d) did not stop; killing it", proc.pid)
            proc.kill()
            self._wait(_STOP_TIMEOUT_S)

    def stop(self) -> dict[str, Any]:
        """Stop recording and return {available, reason, samples, categories, ...}."""
        if self._summary is not None:
            return self._summary
        if self._proc is None:
            if self._reason is None:
                raise RuntimeError("py-spy recorder was not started")
            self._summary = _unavailable(self._reason)
            return self._summary
        self._finish()
        log = self.log_path.read_text(errors="replace") if self.log_path.exists() else ""
        if not self.raw_path.exists() or self.raw_path.stat().st_size == 0:
            reason = f"py-spy recorded no samples of pid {self.pid}: {_last_line(log)}"
            _warn_once(reason)
            self._summary = _unavailable(reason, None)
            return self._summary
        with open(self.raw_path, encoding="utf-8", errors="replace") as raw:
            summary = classify_stacks(raw, native=self.native)
        errors = re.search(r"Errors: (\d+)", log)
        self._summary = {
            "available": True,
            "reason": None,
            "rate": self.rate,
            "native_reason": self.native_reason,
            "nonblocking": self.nonblocking,
            "py_spy_errors": int(errors.group(1)) if errors else None,
            "pyspy_cpu_s": None if self._cpu_s is None else round(self._cpu_s, 3),
            **summary,
            "raw_path": str(self.raw_path),
        }
        return self._summary

    def __enter__(self) -> PySpyRecorder:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _not_zombie(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False
