"""Parallel plans: who runs trials (processes or threads) and who runs windows (a pool).

| mode     | trials                                   | windows of a trial          |
|----------|------------------------------------------|-----------------------------|
| trial    | n_jobs worker processes, one study       | in the worker               |
| backtest | this process, one at a time              | pool of bt_workers, made once |
| hybrid   | n_jobs worker processes                  | a pool of bt_workers each   |
| thread   | Optuna's n_jobs threads in this process  | in the thread               |

A plan runs a `TrialTask` (perfopt.optimize.tasks: the daily objective or an
intraday pair) and returns a `PlanResult`; it never prints. Every plan stops at
exactly --n-trials counted trials in the study, counted in the storage
(perfopt.optimize.quota), so independent runs sharing a storage stop together.

The supervisor of the process plans watches its workers: a worker killed by a signal
loses its trial, which ends FAIL (Optuna's heartbeat on RDB storages; the supervisor
itself on journal storage, which has no heartbeat in Optuna 5.0) and is retried once,
and a replacement worker starts, so the study still reaches n_trials. SIGINT stops
every worker after its current window; the study stays consistent.
"""

from __future__ import annotations

import contextlib
import json
import logging
import multiprocessing
import multiprocessing.connection
import os
import signal
import tempfile
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from perfopt.errors import PerfoptError, ServiceError, UserError
from perfopt.heap import set_heap
from perfopt.machine import thread_pools
from perfopt.optimize._bootstrap import STOP, Interrupted, capped_environ, scoped_caps
from perfopt.optimize.config import OptimizeConfig
from perfopt.optimize.storages import StorageSpec
from perfopt.optimize.tasks import TrialTask
from perfopt.optimize.workers import (
    Slots,
    WorkerArgs,
    clear_prebuilt,
    prebuild_objective,
    trial_worker_entry,
)
from perfopt.urls import mask_url

log = logging.getLogger(__name__)

# How long workers get to finish their current window after SIGINT before SIGTERM.
STOP_GRACE_S = 8.0


@dataclass
class PlanResult:
    """What a plan did: per-worker reports, optimize-loop seconds, faults."""

    workers: list[dict[str, Any]] = field(default_factory=list)
    loop_s: list[float] = field(default_factory=list)
    lost_workers: list[dict[str, Any]] = field(default_factory=list)
    failed_by_supervisor: list[int] = field(default_factory=list)
    interrupted: bool = False
    pool: dict[str, Any] | None = None
    dask: dict[str, Any] | None = None  # executor details: cluster, tasks, lost workers
    prebuilt: dict[str, Any] | None = None  # the objective built once before forking workers


def run_in_process(
    cfg: OptimizeConfig,
    study: Any,
    task: TrialTask,
    remaining: int,
    deadline: float | None,
) -> PlanResult:
    """backtest and thread modes, and trial mode on in-memory storage (one process)."""
    from perfopt.optimize.objective import NonFiniteValue
    from perfopt.optimize.quota import QuotaObjective, SurplusTrial, TrialQuota, run_until_quota

    result = PlanResult()
    pool = None
    quota = TrialQuota(cfg.n_trials, cfg.run_id)
    heap = set_heap(cfg.heap)  # this process runs the trials (a window pool sets its own)
    # Capped only while the plan runs: the caller's process gets its pools back.
    with scoped_caps(cfg.thread_cap if cfg.mode != "thread" else None):
        try:
            if cfg.uses_pool:
                pool, result.pool = task.open_pool(cfg)
            objective, info = task.build(cfg, pool)
            result.workers.append(
                {
                    "index": 0,
                    "pid": os.getpid(),
                    "thread_pools": thread_pools(),
                    "heap": heap.as_dict(),
                    **info,
                }
            )
            threads = cfg.n_jobs if cfg.mode == "thread" else 1
            start = time.perf_counter()
            try:
                if cfg.mode == "thread":
                    # Optuna's threads: the quota's surplus check still keeps the count exact.
                    timeout = None if deadline is None else max(0.01, deadline - time.time())
                    study.optimize(
                        QuotaObjective(objective, quota),
                        n_trials=remaining,
                        timeout=timeout,
                        n_jobs=threads,
                        catch=(NonFiniteValue, SurplusTrial),
                        show_progress_bar=cfg.progress,
                    )
                else:
                    run_until_quota(
                        study, objective, quota, catch=(NonFiniteValue,), deadline=deadline,
                        should_stop=STOP.is_set,
                    )  # fmt: skip
            except Interrupted:
                result.interrupted = True
            # Threads overlap, so the time they spent in the loop is threads x wall.
            result.loop_s.append((time.perf_counter() - start) * threads)
        finally:
            if pool is not None:
                pool.terminate()
                pool.join()
    result.interrupted = result.interrupted or STOP.is_set()
    return result


def run_trial_processes(
    cfg: OptimizeConfig,
    study: Any,
    spec: StorageSpec,
    task: TrialTask,
    remaining: int,
    n_existing: int,
    deadline: float | None,
    progress: Any = None,
) -> PlanResult:
    """trial and hybrid modes: n_jobs worker processes on one shared study, supervised."""
    import optuna

    from perfopt.optimize.studies import fail_trials, running_trials_of

    optuna_verbosity = optuna.logging.get_verbosity()
    ctx = multiprocessing.get_context(cfg.start_method)
    slots = Slots(ctx, remaining)
    done = ctx.Value("i", 0)
    heartbeat = (
        (cfg.heartbeat_interval, cfg.heartbeat_grace)
        if spec.supports_heartbeat and cfg.heartbeat_interval
        else None
    )
    result = PlanResult()
    report_dir = Path(tempfile.mkdtemp(prefix="perfopt-optimize-"))
    procs: dict[int, Any] = {}
    next_index = 0
    # A killed worker is replaced; a worker that keeps dying would loop forever.
    max_replacements = 2 * cfg.n_jobs
    pending_lost: list[tuple[int, float]] = []  # (pid, time of death) awaiting heartbeat

    def start_worker() -> None:
        nonlocal next_index
        args = WorkerArgs(
            next_index, cfg, spec, task, n_existing, slots, done,
            report_dir, time.time(), deadline, heartbeat, optuna_verbosity,
        )  # fmt: skip
        with capped_environ(cfg.thread_cap):
            proc = ctx.Process(
                target=trial_worker_entry,
                args=(args,),
                name=f"perfopt-trial-{next_index}",
            )
            proc.start()
        procs[next_index] = proc
        next_index += 1

    stopping_since: float | None = None
    try:
        # Load and warm once here: forked workers inherit it and start in milliseconds.
        # Timed inside the plan (the run's wall), so start-up still counts.
        with scoped_caps(cfg.thread_cap):
            prebuilt = prebuild_objective(cfg, task)
        if prebuilt is not None:
            result.prebuilt = {"pid": os.getpid(), **prebuilt}
        for _ in range(cfg.n_jobs):
            start_worker()
        while procs or pending_lost:
            if STOP.is_set() and stopping_since is None:
                stopping_since = time.monotonic()
                result.interrupted = True
                for proc in procs.values():
                    _signal(proc, signal.SIGINT)  # also when only this process got it
            if stopping_since is not None and time.monotonic() - stopping_since > STOP_GRACE_S:
                for proc in procs.values():
                    _signal(proc, signal.SIGKILL if proc.exitcode is None else 0)
            if procs:
                multiprocessing.connection.wait([p.sentinel for p in procs.values()], timeout=0.2)
            else:
                time.sleep(0.2)
            for index, proc in list(procs.items()):
                if proc.is_alive():
                    continue
                proc.join()
                del procs[index]
                report = _read_report(report_dir, index)
                if proc.exitcode == 0:
                    result.workers.append(report)
                    continue
                if proc.exitcode > 0:
                    _terminate_all(procs)
                    if report.get("service_error"):
                        raise ServiceError(report["service_error"])
                    if report.get("user_error"):
                        raise UserError(report["user_error"])
                    raise PerfoptError(
                        f"trial worker {index} (pid {proc.pid}) failed: "
                        f"{mask_url(report.get('error', 'exit status ' + str(proc.exitcode)))}\n"
                        f"{mask_url(report.get('traceback', ''))}"
                    )
                lost = {"index": index, "pid": proc.pid, "signal": -proc.exitcode, **report}
                result.lost_workers.append(lost)
                if stopping_since is None:
                    pending_lost.append((proc.pid, time.monotonic()))
            # Settle each dead worker's trial, then replace the worker.
            for pid, died in list(pending_lost):
                running = running_trials_of(study, [pid])
                if running and heartbeat and stopping_since is None:
                    # Optuna's heartbeat fails it (and enqueues the retry) once the grace
                    # period passes; any worker starting a trial checks, and so do we.
                    with warnings.catch_warnings():
                        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
                        optuna.storages.fail_stale_trials(study)
                    if time.monotonic() - died < heartbeat[1] + 5 * heartbeat[0] + 5:
                        continue
                if running:
                    result.failed_by_supervisor += fail_trials(
                        study, running, retry=stopping_since is None
                    )
                pending_lost.remove((pid, died))
                if stopping_since is None:
                    slots.give_back()
                    if len(result.lost_workers) <= max_replacements:
                        start_worker()
                    else:
                        log.warning("trial workers keep dying; not replacing pid %d", pid)
            if progress is not None:
                progress(done.value)
    except BaseException:
        _terminate_all(procs)
        raise
    finally:
        clear_prebuilt()
        for path in report_dir.glob("*"):
            path.unlink(missing_ok=True)
        report_dir.rmdir()
    result.loop_s = [w["loop_s"] for w in result.workers if "loop_s" in w]
    return result


def _read_report(report_dir: Path, index: int) -> dict[str, Any]:
    path = report_dir / f"worker-{index}.json"
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return {"index": index}


def _signal(proc: Any, signum: int) -> None:
    if signum and proc.pid is not None and proc.exitcode is None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(proc.pid, signum)


def _terminate_all(procs: dict[int, Any]) -> None:
    for proc in procs.values():
        _signal(proc, signal.SIGKILL)
    for proc in procs.values():
        proc.join(timeout=5)
