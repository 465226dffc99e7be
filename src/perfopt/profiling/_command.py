"""Profile any command: run it, watch it with psutil and py-spy, write profile.json."""

from __future__ import annotations

import json
import logging
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import psutil

from perfopt.errors import UserError
from perfopt.profiling._pyspy import PySpyRecorder, native_status, pyspy_available
from perfopt.profiling._sampler import ProcessTreeSampler
from perfopt.profiling._threads import oversubscription
from perfopt.profiling._verdict import verdict
from perfopt.urls import mask_file, mask_tree

logger = logging.getLogger(__name__)

_POLL_S = 0.005
_KILL_GRACE_S = 5.0
_LEFTOVER_GRACE_S = 2.0


def _check_command(cmd: Sequence[str], env: Mapping[str, str] | None) -> list[str]:
    argv = [os.fspath(part) for part in cmd]
    if not argv:
        raise UserError("no command to profile: put it after `--`, e.g. `-- python my_script.py`")
    exe = argv[0]
    path = (env or {}).get("PATH", os.environ.get("PATH"))
    if os.sep in exe:
        if not (os.path.isfile(exe) and os.access(exe, os.X_OK)):
            raise UserError(f"command not found or not executable: {exe!r} (check the path)")
    elif shutil.which(exe, path=path) is None:
        raise UserError(f"command not found: {exe!r} (check the spelling, or give its full path)")
    return argv


def _wait_exited(pid: int, deadline: float | None) -> bool:
    """Wait until `pid` exits without reaping it (so its zombie can still be read)."""
    flags = os.WEXITED | os.WNOWAIT
    if deadline is None:
        os.waitid(os.P_PID, pid, flags)
        return True
    while time.perf_counter() < deadline:
        if os.waitid(os.P_PID, pid, flags | os.WNOHANG) is not None:
            return True
        time.sleep(_POLL_S)
    return False


def _kill_group(pgid: int, sig: int) -> bool:
    try:
        os.killpg(pgid, sig)
        return True
    except (ProcessLookupError, PermissionError):
        return False


def _zombie_cpu(pid: int) -> float | None:
    """CPU seconds of an exited, unreaped process and the children it reaped."""
    try:
        t = psutil.Process(pid).cpu_times()
    except psutil.Error:
        return None
    return round(t.user + t.system + t.children_user + t.children_system, 3)


def _end_leftovers(pgid: int, name: str) -> None:
    """Give processes left in the command's group a moment to exit, then SIGTERM them."""
    deadline = time.perf_counter() + _LEFTOVER_GRACE_S
    while _kill_group(pgid, 0):  # helpers such as multiprocessing's resource tracker
        if time.perf_counter() > deadline:
            logger.warning("%s left processes running; sending them SIGTERM", name)
            _kill_group(pgid, signal.SIGTERM)
            return
        time.sleep(0.01)


def _run_watched(
    argv: list[str],
    out_dir: Path,
    *,
    hz: float | None,
    rate: int | None,
    env: Mapping[str, str] | None = None,
    timeout: float | None = None,
    nonblocking: bool = False,
    native: bool | None = None,
) -> dict[str, Any]:
    """Run argv in a new session with the chosen watchers; return raw parts of a profile."""
    full_env = {**os.environ, **env} if env else None
    try:
        t0 = time.perf_counter()
        proc = subprocess.Popen(argv, env=full_env, start_new_session=True)
    except (FileNotFoundError, PermissionError) as exc:
        raise UserError(f"cannot run {argv[0]!r}: {exc.strerror}") from exc
    recorder = sampler = None
    psutil_view = None
    timed_out = False
    try:
        if rate is not None:  # first: py-spy must attach before a short command ends
            recorder = PySpyRecorder(
                proc.pid, out_dir, rate=rate, nonblocking=nonblocking, native=native
            )
            recorder.start()
        if hz is not None:
            sampler = ProcessTreeSampler(proc.pid, hz=hz)
            sampler.start()
        if recorder is not None:
            recorder.wait_sampling(timeout=2.0)  # and retry without --native if it failed
        deadline = None if timeout is None else t0 + timeout
        if not _wait_exited(proc.pid, deadline):
            timed_out = True
            logger.warning("%s ran past %.1f s; stopping its process group", argv[0], timeout)
            _kill_group(proc.pid, signal.SIGTERM)
            if not _wait_exited(proc.pid, time.perf_counter() + _KILL_GRACE_S):
                _kill_group(proc.pid, signal.SIGKILL)
                _wait_exited(proc.pid, None)
        wall = time.perf_counter() - t0
        target_cpu = _zombie_cpu(proc.pid)
        # The root is a zombie now: the sampler's last tick still reads its totals.
        psutil_view = sampler.stop() if sampler else None
    finally:
        if proc.poll() is None:  # interrupted (Ctrl-C) or failed above
            _kill_group(proc.pid, signal.SIGKILL)
        exit_code = proc.wait()
        _end_leftovers(proc.pid, argv[0])
        if sampler is not None and psutil_view is None:
            sampler.stop()
        pyspy_view = recorder.stop() if recorder else None
    return {
        "exit_code": exit_code,
        "timed_out": timed_out,
        "wall_s": round(wall, 3),
        "target_cpu_s": target_cpu,
        "psutil": psutil_view,
        "pyspy": pyspy_view,
    }


def _share(part: float | None, whole: float | None) -> float | None:
    if part is None or not whole:
        return None
    return round(part / whole, 4)


def views_overhead(
    target_cpu_s: float | None, sampler: Mapping[str, Any] | None, pyspy: Mapping[str, Any] | None
) -> dict[str, Any]:
    """What the views cost: their CPU seconds, and as shares of the target's CPU."""
    sampler_cpu = (sampler or {}).get("sampler_cpu_s")
    spy_cpu = (pyspy or {}).get("pyspy_cpu_s")
    return {
        "target_cpu_s": target_cpu_s,
        "sampler_cpu_s": sampler_cpu,
        "sampler_share": _share(sampler_cpu, target_cpu_s),
        "pyspy_cpu_s": spy_cpu,
        "pyspy_share": _share(spy_cpu, target_cpu_s),
        "pyspy_native": bool((pyspy or {}).get("native")),
        "pyspy_nonblocking": bool((pyspy or {}).get("nonblocking")),
    }


def profile_command(
    cmd: Sequence[str],
    out_dir: Path,
    pyspy: bool = True,
    rate: int = 50,
    hz: float = 10.0,
    env: Mapping[str, str] | None = None,
    timeout: float | None = None,
    native: bool | None = None,
) -> dict[str, Any]:
    """Run `cmd` watched by the sampler (and py-spy), write out_dir/profile.json, return it.

    `env` adds variables to the current environment. The command runs in its own
    session; on `timeout` its whole process group is stopped. `native`: py-spy's
    native frames (None: where they work). Returns {command, exit_code, timed_out,
    wall_s, psutil (with thread_states), pyspy, oversubscription, verdict: {kind, text,
    shares, ...}, overhead, profile_path}.
    """
    argv = _check_command(cmd, env)
    if rate <= 0 or hz <= 0:
        raise UserError(f"--rate and --interval-hz must be positive (got {rate} and {hz})")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    if pyspy:
        pyspy_available()  # check (and warn) before the command starts, not during it
    parts = _run_watched(
        argv,
        out_dir,
        hz=hz,
        rate=rate if pyspy else None,
        env=env,
        timeout=timeout,
        native=native,
    )
    pyspy_view = parts["pyspy"] or {
        "available": False,
        "reason": "turned off (--no-pyspy)",
        "samples": 0,
        "categories": {},
        "top_functions": [],
        "processes": [],
        "raw_path": None,
    }
    profile_path = out_dir / "profile.json"
    if pyspy_view.get("raw_path"):
        mask_file(pyspy_view["raw_path"])  # its process lines hold the command line
    # No secret of the command line (URL passwords, --password X) in any output.
    result = mask_tree(
        {
            "command": argv,
            "exit_code": parts["exit_code"],
            "timed_out": parts["timed_out"],
            "wall_s": parts["wall_s"],
            "psutil": parts["psutil"],
            "pyspy": pyspy_view,
            "oversubscription": oversubscription(parts["psutil"]),
            "verdict": verdict(
                parts["psutil"],
                pyspy_view,
                exit_code=parts["exit_code"],
                timed_out=parts["timed_out"],
            ),
            "overhead": views_overhead(parts["target_cpu_s"], parts["psutil"], pyspy_view),
            "profile_path": str(profile_path),
        }
    )
    profile_path.write_text(json.dumps(result, indent=2) + "\n")
    return result


def measure_overhead(
    cmd: Sequence[str],
    repeats: int = 3,
    rate: int = 50,
    hz: float = 10.0,
    nonblocking: bool = False,
    native: bool = True,
) -> dict[str, Any]:
    """Time `cmd` bare, under the sampler, under py-spy and py-spy --native, interleaved.

    The sampler variant ("psutil") reads thread states too, as it does in a profile.
    With `native` (and where py-spy can), a fourth variant runs py-spy --native;
    where it cannot, `pyspy_native_reason` says why. Each repeat runs the variants in a
    rotated order (so drift on a shared machine
    hits all of them). Two measures per view: the wall-time overhead (its median wall
    time over the bare median, minus 1: what the target feels, noisy on a loaded
    machine), and the CPU cost (CPU the watcher itself used over the target's CPU:
    stable, and what the target pays when the cores are full). Use a CPU-bound command
    of fixed work (not fixed time), a second or more.
    """
    argv = _check_command(cmd, None)
    if repeats < 1:
        raise UserError(f"repeats must be at least 1, got {repeats}")
    native_ok, native_reason = native_status() if native else (False, "not asked for")
    if native_ok and nonblocking:
        native_ok, native_reason = False, "--nonblocking cannot read native stacks"
    variants: tuple[str, ...] = ("bare", "psutil", "pyspy")
    if native_ok:
        variants += ("pyspy_native",)
    seconds: dict[str, list[float]] = {v: [] for v in variants}
    target_cpu: dict[str, list[float]] = {v: [] for v in variants}
    watcher_cost: dict[str, list[float]] = {v: [] for v in variants[1:]}
    with tempfile.TemporaryDirectory(prefix="perfopt-overhead-") as tmp:
        for r in range(repeats):
            k = r % len(variants)
            for variant in variants[k:] + variants[:k]:
                spy = variant.startswith("pyspy")
                parts = _run_watched(
                    argv,
                    Path(tmp),
                    hz=hz if variant == "psutil" else None,
                    rate=rate if spy else None,
                    nonblocking=nonblocking,
                    native=variant == "pyspy_native",
                )
                if parts["exit_code"] != 0:
                    raise UserError(
                        f"{argv[0]!r} exited with {parts['exit_code']} while measuring overhead"
                    )
                seconds[variant].append(parts["wall_s"])
                cpu = parts["target_cpu_s"] or float("nan")
                target_cpu[variant].append(cpu)
                if variant == "psutil":
                    watcher_cost["psutil"].append(parts["psutil"]["sampler_cpu_s"] / cpu)
                elif spy and parts["pyspy"].get("pyspy_cpu_s") is not None:
                    watcher_cost[variant].append(parts["pyspy"]["pyspy_cpu_s"] / cpu)
    median = {v: statistics.median(s) for v, s in seconds.items()}
    cost = {v: round(statistics.median(c), 4) if c else None for v, c in watcher_cost.items()}
    native_figures = (
        {
            "pyspy_native_overhead": round(median["pyspy_native"] / median["bare"] - 1.0, 4),
            "pyspy_native_cpu_cost": cost["pyspy_native"],
        }
        if native_ok
        else {}
    )
    return {
        "command": argv,
        "repeats": repeats,
        "hz": hz,
        "rate": rate,
        "nonblocking": nonblocking,
        "cpu_count": os.cpu_count(),
        "python": sys.executable,
        "seconds": seconds,
        "median_s": median,
        "target_cpu_s": target_cpu,
        "psutil_overhead": round(median["psutil"] / median["bare"] - 1.0, 4),
        "pyspy_overhead": round(median["pyspy"] / median["bare"] - 1.0, 4),
        "psutil_cpu_cost": cost["psutil"],
        "pyspy_cpu_cost": cost["pyspy"],
        "pyspy_native": native_ok,
        "pyspy_native_reason": native_reason,
        **native_figures,
    }
