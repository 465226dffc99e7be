"""Run one repeat of a cell in its own child process; build a cell's result line.

The parent stays light (no numba, no torch): the child imports the workload, prepares
its inputs untimed, says "ready", and runs when told "go" so the parent's watchers see
only the measured part. A timeout or Ctrl-C kills the child's whole process group
(it runs in its own session). Each finished repeat is saved in the cell's folder, so a
crash loses at most the running repeat and `resume` picks up where it stopped; the
order in which repeats run (interleaved across cells) is the scheduler's business
(`perfopt.harness.schedule`).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import select
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from perfopt.harness import environment, launcher, processes, results
from perfopt.harness.cells import HARNESS_AXES, Cell
from perfopt.harness.spec import MatrixSpec
from perfopt.harness.views import CellViews, judge
from perfopt.machine import THREAD_CAP_VARS
from perfopt.urls import mask_tree, mask_url

log = logging.getLogger(__name__)

_STDERR_TAIL = 1500
# After "done", the child writes its result and exits; past this it is killed.
_EXIT_GRACE_S = 60.0


@dataclass
class RunContext:
    """What every cell of one run shares: folders, limits, environment, options."""

    spec: MatrixSpec
    out_dir: Path
    cache_dir: Path
    pyspy: bool
    environment: dict[str, Any]
    keep_workdirs: bool = False
    extra_env: dict[str, str] = field(default_factory=dict)
    # warm interpreters that fork the repeats (spec.cell_start == "fork"); None: exec each
    launchers: launcher.Launchers | None = None


@dataclass
class Repeat:
    """One run of a cell in its own child process, as the parent saw it."""

    status: str
    error: str | None = None
    seconds: float | None = None
    result: dict[str, Any] = field(default_factory=dict)
    psutil: dict[str, Any] = field(default_factory=dict)
    pyspy: dict[str, Any] = field(default_factory=dict)
    pid: int = 0
    index: int = 0
    order: int = 0  # position among all repeats of the matrix run (interleaving)
    timed: bool = True  # False: the extra py-spy run, whose time decides nothing
    # the run's life outside its timed part: launch to "ready" (interpreter, imports,
    # prepare) and "done" to exit; what the matrix spends besides the work itself
    startup_s: float | None = None
    exit_s: float | None = None
    started: str = "exec"  # "fork": from the workload's warm launcher (harness/launcher.py)

    def to_json(self) -> dict[str, Any]:
        """A JSON-serializable dict (what `save_repeat` writes)."""
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Repeat:
        """Inverse of `to_json`."""
        return cls(**{k: data[k] for k in cls.__dataclass_fields__ if k in data})


_Repeat = Repeat  # the name the repeat runner below has always used


def thread_caps(cell: Cell) -> dict[str, str]:
    """Env vars capping BLAS/OpenMP/numba threads for a cell ({} leaves them as inherited)."""
    blas = cell.resolved.get("blas_threads")
    if blas is None and cell.uses_workers:
        blas = 1  # worker processes x BLAS threads would oversubscribe the cores
    if blas is None:
        return {}
    return {name: str(int(blas)) for name in THREAD_CAP_VARS}


def skipped_record(cell: Cell, ctx: RunContext) -> dict[str, Any]:
    """The result line of a cell that was not run (invalid combination, missing module)."""
    return _record(cell, ctx, "skipped", cell.skip, [], None, environment.utc_now())


def run_repeat(cell: Cell, ctx: RunContext, index: int, order: int, pyspy: str) -> Repeat:
    """Run one repeat of a cell in a fresh child process and keep it in the cell's folder.

    `pyspy` is "off", "attached" (py-spy samples this timed run without pausing it:
    pausing cost a serial self-play cell ~15%, more than its parallel twin) or "extra"
    (an untimed run for py-spy only: pyperf's rule, do not time under a profiler).
    """
    rep = _run_repeat(cell, ctx, index, pyspy=pyspy != "off", nonblocking=pyspy == "attached")
    rep.index, rep.order, rep.timed = index, order, pyspy != "extra"
    save_repeat(ctx, cell, rep)
    return rep


def save_repeat(ctx: RunContext, cell: Cell, rep: Repeat) -> None:
    """Write a repeat atomically, masked, so a crash or Ctrl-C loses at most the running one."""
    folder = ctx.out_dir / "cells" / cell.cell_id
    folder.mkdir(parents=True, exist_ok=True)
    name = f"repeat-r{rep.index}.json" if rep.timed else "repeat-pyspy.json"
    tmp = folder / (name + ".tmp")
    tmp.write_text(json.dumps(mask_tree(rep.to_json()), default=str), encoding="utf-8")
    tmp.replace(folder / name)


def saved_repeats(ctx: RunContext, cell: Cell) -> list[Repeat]:
    """The timed repeats an interrupted run left for `cell`, in index order (ok ones)."""
    folder = ctx.out_dir / "cells" / cell.cell_id
    out = []
    for path in sorted(folder.glob("repeat-r*.json")):
        try:
            rep = Repeat.from_json(json.loads(path.read_text(encoding="utf-8")))
        except (OSError, ValueError, TypeError):
            continue
        if rep.status == "ok":
            out.append(rep)
    out.sort(key=lambda r: r.index)
    # indexes must run 0..n-1: a gap means an earlier repeat failed and was dropped
    return [r for i, r in enumerate(out) if r.index == i]


def cell_record(
    cell: Cell, ctx: RunContext, repeats: list[Repeat], start: str, extra: Repeat | None = None
) -> dict[str, Any]:
    """The result line of a cell from its timed repeats (and the extra py-spy run, if any).

    The measurement and the attribution views come from the median repeat; with py-spy
    attached to a timed repeat, its samples are put beside the median's psutil view and
    the line says which run they watched.
    """
    failed = [r for r in repeats if r.status != "ok"]
    if failed:
        return _record(cell, ctx, failed[0].status, failed[0].error, repeats, None, start)
    ordered = sorted(repeats, key=lambda r: r.seconds or 0.0)
    median = ordered[(len(ordered) - 1) // 2]
    attached = next((r for r in repeats if r.pyspy and r.pyspy.get("samples") is not None), None)
    chosen = Repeat(**{**asdict(median)})
    if extra is not None:
        pyspy = dict(extra.pyspy) if extra.pyspy else {"available": False}
        pyspy["run_status"] = extra.status
        pyspy["run_seconds"] = extra.seconds
        if extra.status != "ok":
            first = (extra.error or "").strip().splitlines()[:1]
            pyspy["reason"] = f"the py-spy run {extra.status}: {first[0] if first else '?'}"
        chosen.pyspy = pyspy
    elif attached is not None:
        spy = dict(attached.pyspy)
        spy["attached_to_timed_run"] = True
        spy["run_seconds"] = attached.seconds
        chosen.pyspy = spy
    elif ctx.pyspy:
        chosen.pyspy = {"available": False, "reason": "py-spy watched no run of this cell"}
    else:
        chosen.pyspy = {"available": False, "reason": "py-spy view off"}
    return _record(cell, ctx, "ok", None, repeats, chosen, start)


def _record(
    cell: Cell,
    ctx: RunContext,
    status: str,
    error: str | None,
    repeats: list[Repeat],
    chosen: Repeat | None,
    start: str,
) -> dict[str, Any]:
    done = [r for r in repeats if r.status == "ok" and r.seconds is not None]
    seconds = [float(r.seconds or 0.0) for r in done]
    runs = [_run_line(r) for r in done]
    measurement = chosen.result.get("measurement") if chosen else None
    attribution = None
    verdict = None
    source = chosen or (repeats[-1] if repeats else None)
    if source is not None and (source.psutil or source.pyspy):
        pools = source.result.get("threadpools")
        over, verdict = judge(source.psutil, source.pyspy, source.pid, pools, status)
        attribution = {
            "stages": (measurement or {}).get("stages", {}),
            "psutil": source.psutil,
            "pyspy": source.pyspy,
            "oversubscription": over,
            "threadpools": pools,
        }
    prepare = [r.result.get("prepare_s") for r in repeats if r.result.get("prepare_s") is not None]
    env = dict(ctx.environment)
    env["start_utc"] = start
    return {
        "schema": results.SCHEMA,
        "kind": "cell",
        "matrix": ctx.spec.name,
        "cell_id": cell.cell_id,
        "label": cell.label,
        "workload": cell.workload,
        "grid": cell.grid,
        "params": cell.resolved,
        "baseline": cell.baseline,
        "status": status,
        "error": error,
        "repeats": seconds,
        "runs": runs,
        "timing": results.timing(seconds),
        "measurement": measurement,
        "prepare_s": prepare[0] if prepare else None,
        "thread_caps": thread_caps(cell),
        "attribution": attribution,
        "verdict": verdict,
        "problem_axes": dict(cell.problem_axes),
        "environment": env,
    }


def _run_line(rep: Repeat) -> dict[str, Any]:
    m = rep.result.get("measurement") or {}
    return {
        "seconds": float(rep.seconds or 0.0),
        "metrics": m.get("metrics") or {},
        "stages": m.get("stages") or {},
        "order": rep.order,
        "pyspy_attached": bool(rep.pyspy and rep.pyspy.get("samples") is not None),
        "startup_s": rep.startup_s,
        "exit_s": rep.exit_s,
        "started": rep.started,
        # cores the rest of the machine kept busy during this run (other jobs)
        "other_busy_cores": (rep.psutil or {}).get("other_busy_cores"),
    }


def _run_repeat(
    cell: Cell, ctx: RunContext, index: int, pyspy: bool, nonblocking: bool = False
) -> _Repeat:
    cell_dir = ctx.out_dir / "cells" / cell.cell_id
    cell_dir.mkdir(parents=True, exist_ok=True)
    workdir = cell_dir / "work" / f"r{index}"
    result_path = cell_dir / f"result-r{index}.json"
    result_path.unlink(missing_ok=True)
    out_log, err_log = cell_dir / f"stdout-r{index}.log", cell_dir / f"stderr-r{index}.log"
    env = {**os.environ, **ctx.extra_env, **thread_caps(cell)}
    header = {
        "import_path": cell.import_path,
        "params": {k: v for k, v in cell.resolved.items() if k not in HARNESS_AXES},
        "cache_dir": str(ctx.cache_dir),
        "workdir": str(workdir),
        "result_path": str(result_path),
    }
    ready_r, ready_w = os.pipe()
    launched = time.monotonic()
    with open(out_log, "wb") as out_fh, open(err_log, "wb") as err_fh:
        proc = _start(cell, ctx, env, out_fh, err_fh, ready_w)
    processes.guard(proc)  # its tree dies with it, and with us (perfopt.harness.processes)
    os.close(ready_w)
    views: CellViews | None = None
    rep = _Repeat(status="failed", pid=proc.pid, started="fork" if isinstance(proc, launcher.ForkedCell) else "exec")
    try:
        assert proc.stdin is not None
        proc.stdin.write(json.dumps(header).encode() + b"\n")
        proc.stdin.flush()
        state = _wait_for(ready_r, b"ready", ctx.spec.prepare_timeout, proc)
        if state == "timeout":
            _kill_group(proc)
            rep.status = "timeout"
            rep.error = (
                f"timed out after {ctx.spec.prepare_timeout:g} s in prepare; process group killed"
            )
            return rep
        if state == "ready":
            rep.startup_s = time.monotonic() - launched
            views = CellViews(
                proc.pid, cell_dir / f"pyspy-r{index}", pyspy, nonblocking=nonblocking
            )
            views.start()
            proc.stdin.write(b"go\n")
            proc.stdin.flush()
            proc.stdin.close()
            if _wait_for(ready_r, b"done", ctx.spec.cell_timeout, proc) == "timeout":
                _kill_group(proc)
                rep.status = "timeout"
                rep.error = (
                    f"timed out after {ctx.spec.cell_timeout:g} s in run; process group killed"
                )
            else:
                # The run is over: the views stop before the interpreter's exit.
                done = time.monotonic()
                rep.psutil, rep.pyspy = views.stop()
                views = None
                with contextlib.suppress(subprocess.TimeoutExpired):
                    proc.wait(timeout=_EXIT_GRACE_S)
                rep.exit_s = time.monotonic() - done
        else:
            # it closed its pipe but may linger: the kill below ends it
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=30)
        _kill_group(proc)  # stragglers the workload left behind
        if views is not None:
            rep.psutil, rep.pyspy = views.stop()
            views = None
        if rep.status == "timeout":
            return rep
        rep.result = _read_result(result_path)
        if rep.result.get("status") == "ok":
            rep.status = "ok"
            rep.seconds = float(rep.result["measurement"]["seconds"])
        else:
            rep.error = _failure_text(rep.result, proc.returncode, err_log)
        return rep
    except BaseException:
        _kill_group(proc)  # Ctrl-C or a bug here: never leave the cell running
        raise
    finally:
        os.close(ready_r)
        if views is not None:
            views.stop()
        if proc.stdin is not None and not proc.stdin.closed:
            with contextlib.suppress(OSError):
                proc.stdin.close()
        processes.release(proc)
        _tidy(cell_dir, workdir, result_path, (out_log, err_log), ctx.keep_workdirs)


def _start(
    cell: Cell, ctx: RunContext, env: dict[str, str], out: Any, err: Any, ready_w: int
) -> Any:
    """Start a repeat's process: forked from the workload's launcher, or a new interpreter."""
    if ctx.launchers is not None:
        try:
            return ctx.launchers.get(cell.import_path, env).start(out, err, ready_w)
        except OSError as exc:  # refused (said once, by Launchers) or died: this repeat execs
            log.debug("cell launcher unusable (%s): starting a new interpreter", exc)
    return subprocess.Popen(
        [sys.executable, "-m", "perfopt.harness.child", "--ready-fd", str(ready_w)],
        stdin=subprocess.PIPE,
        stdout=out,
        stderr=err,
        env=env,
        pass_fds=(ready_w,),
        start_new_session=True,  # its own process group: a timeout kills all of it
        preexec_fn=processes.cell_preexec(),
    )


def _wait_for(fd: int, word: bytes, timeout: float, proc: Any) -> str:
    """Wait for the child's line `word`: the word, "exited" (without it) or "timeout"."""
    deadline = time.monotonic() + timeout
    buf = b""
    while proc.poll() is None:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return "timeout"
        readable, _, _ = select.select([fd], [], [], min(remaining, 0.1))
        if not readable:
            continue
        chunk = os.read(fd, 64)
        buf += chunk
        if word in buf:
            return word.decode()
        if not chunk:  # every writer closed: the child is exiting
            return "exited"
    return "exited"


def _kill_group(proc: Any) -> None:
    processes.end_cell(proc)  # the group, and descendants that left it
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        log.warning("child %d did not die after SIGKILL", proc.pid)


def _read_result(path: Path) -> dict[str, Any]:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return {}


def _failure_text(result: dict[str, Any], returncode: int | None, err_log: Path) -> str:
    tail = _tail(err_log)
    if result.get("error"):
        phase = result.get("phase", "run")
        text = f"{result['error']} (in {phase})"
        tb = result.get("traceback")
        if tb and result["error"] not in tail:
            tail = tb[-_STDERR_TAIL:]
        return f"{text}\n{tail}".strip() if tail else text
    how = f"exit status {returncode}"
    if returncode is not None and returncode < 0:
        how = f"killed by {signal.Signals(-returncode).name}"
    return f"child process died without a result ({how}); stderr tail:\n{tail}".strip()


def _tail(path: Path) -> str:
    try:
        data = path.read_bytes()[-_STDERR_TAIL:]
    except OSError:
        return ""
    return data.decode("utf-8", "replace").strip()


def _tidy(
    cell_dir: Path, workdir: Path, result_path: Path, logs: tuple[Path, ...], keep: bool
) -> None:
    """Mask logs, drop empty ones, the raw result and (unless kept) the workdir."""
    result_path.unlink(missing_ok=True)  # unmasked; its content is in the result line
    result_path.with_suffix(".tmp").unlink(missing_ok=True)
    for path in logs:
        try:
            text = path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            continue
        if text.strip():
            path.write_text(mask_url(text), encoding="utf-8")
        else:
            path.unlink()
    if not keep:
        shutil.rmtree(workdir, ignore_errors=True)
        work_root = workdir.parent
        if work_root.exists() and not any(work_root.iterdir()):
            work_root.rmdir()
