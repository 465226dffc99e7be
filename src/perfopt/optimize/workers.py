"""Trial worker processes (trial and hybrid modes).

Each worker loads the study from the shared storage and runs trials with its own
sampler, seeded from --seed and its worker index, until the study holds --n-trials
counted trials. The count comes from the storage (`perfopt.optimize.quota`), so
workers of this run, of other runs on this host and of runs on other hosts together
stop at exactly --n-trials; a shared counter would only hold within one run. Such a
counter (`Slots`) still comes first: the workers of one run reserve a slot before each
trial, so they never race each other for the last place (the storage check would turn
the loser into a surplus trial). The supervisor returns the slot of a worker that died.

Forked workers start in milliseconds: with the fork start method (and no window pool)
the supervisor builds the objective once before it starts them (panel loaded, the
windows' RSI computed; `prebuild_objective`), and every worker, replacements included,
inherits it copy-on-write instead of building it again. With spawn or forkserver each
worker builds its own.

A worker writes `worker-<index>.json` (pid, ready time, thread pools, loop time, error)
into the run's report folder; a SIGKILLed worker writes nothing more, which is fine.
"""

from __future__ import annotations

import json
import os
import signal
import time
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from perfopt.errors import ServiceError, UserError
from perfopt.heap import HeapSetting, set_heap
from perfopt.machine import thread_pools
from perfopt.optimize._bootstrap import (
    STOP,
    Interrupted,
    apply_caps,
    die_with_parent,
    install_sigint_handler,
)
from perfopt.optimize.config import OptimizeConfig
from perfopt.optimize.storages import StorageSpec, open_storage
from perfopt.optimize.tasks import TrialTask


class Slots:
    """A counter shared by processes: trials that may still start in this run."""

    def __init__(self, ctx: Any, n: int) -> None:
        self._value = ctx.Value("i", n)

    def take(self) -> bool:
        """Reserve one trial; False when none is left."""
        with self._value.get_lock():
            if self._value.value <= 0:
                return False
            self._value.value -= 1
            return True

    def give_back(self, n: int = 1) -> None:
        """Return reservations (a dead worker's, or a trial that did not count)."""
        with self._value.get_lock():
            self._value.value += n

    @property
    def left(self) -> int:
        """Reservations still available."""
        return int(self._value.value)


@dataclass
class WorkerArgs:
    """Everything a trial worker needs; picklable without numpy (spawn-safe)."""

    index: int
    cfg: OptimizeConfig
    storage: StorageSpec
    task: TrialTask
    n_existing: int
    slots: Slots
    done: Any  # multiprocessing Value('i'): counted trials finished in this run
    report_dir: Path
    started_at: float  # time.time() in the parent just before start()
    deadline: float | None  # time.time() at which no new trial starts
    heartbeat: tuple[int, int] | None
    optuna_verbosity: int  # optuna.logging level for the worker
    heap: HeapSetting | None = None  # what set_heap did in the worker (set there)

    @property
    def cap(self) -> int | None:
        """Thread cap of this worker."""
        return self.cfg.thread_cap


def done_counter(done: Any) -> Any:
    """An on_trial callback adding counted trials to a shared Value."""

    def count(trial: Any) -> None:
        from perfopt.optimize.studies import counts_toward_target

        if counts_toward_target(trial):
            with done.get_lock():
                done.value += 1

    return count


def write_report(report_dir: Path, index: int, report: dict[str, Any]) -> None:
    """Write a worker's report atomically (the supervisor may read it any time)."""
    path = report_dir / f"worker-{index}.json"
    tmp = path.with_suffix(f".{os.getpid()}.tmp")
    tmp.write_text(json.dumps(report))
    tmp.replace(path)


# The objective the supervisor built before forking (objective, info), or None.
_PREBUILT: tuple[Any, dict[str, Any]] | None = None


def prebuild_objective(cfg: OptimizeConfig, task: TrialTask) -> dict[str, Any] | None:
    """Build the task's objective in this process for forked workers to inherit.

    Only for the fork start method without a window pool (a pool's processes belong to
    one worker) and not for naive access, whose evaluator keeps an open SQLite
    connection (SQLite forbids using one across fork); returns the build's info, or None
    when workers must build their own.
    """
    global _PREBUILT
    _PREBUILT = None
    if cfg.start_method != "fork" or cfg.uses_pool or cfg.access == "naive":
        return None
    objective, info = task.build(cfg, None)
    _PREBUILT = (objective, {**info, "prebuilt": True})
    return info


def clear_prebuilt() -> None:
    """Drop the supervisor's prebuilt objective (its panel) once the workers are done."""
    global _PREBUILT
    _PREBUILT = None


def trial_worker_entry(args: WorkerArgs) -> None:
    """Target of a trial worker process: caps and signals first, then the trials."""
    die_with_parent(signal.SIGINT)
    apply_caps(args.cap)
    args.heap = set_heap(args.cfg.heap)
    install_sigint_handler()
    trial_worker_main(args)


def trial_worker_main(args: WorkerArgs) -> None:
    """Run trials of the shared study until the quota, the deadline or SIGINT end it."""
    import optuna

    from perfopt.optimize.objective import NonFiniteValue
    from perfopt.optimize.quota import TrialQuota, run_until_quota
    from perfopt.optimize.studies import make_pruner, sampler_for, seed_for

    # Failed and interrupted trials are in the summary; Optuna's tracebacks add only noise.
    optuna.logging.set_verbosity(args.optuna_verbosity)
    cfg, task = args.cfg, args.task
    report: dict[str, Any] = {"index": args.index, "pid": os.getpid()}
    pool = None
    try:
        pool, pool_info = task.open_pool(cfg) if cfg.uses_pool else (None, None)
        if _PREBUILT is not None and pool is None:
            objective, info = _PREBUILT  # inherited through fork: loaded and warm
        else:
            objective, info = task.build(cfg, pool)
        storage = open_storage(args.storage, args.heartbeat)
        study = optuna.load_study(
            study_name=cfg.study_name,
            storage=storage,
            sampler=sampler_for(cfg, seed_for(cfg.run_seed, args.index, args.n_existing)),
            pruner=make_pruner(cfg.pruner, task.n_steps),
        )
        report.update(
            ready_s=time.time() - args.started_at,
            thread_pools=thread_pools(),
            heap=None if args.heap is None else args.heap.as_dict(),
            pool=pool_info,
            **info,
        )
        write_report(args.report_dir, args.index, report)
        loop_start = time.perf_counter()
        try:
            report["quota"] = run_until_quota(
                study,
                objective,
                TrialQuota(cfg.n_trials, cfg.run_id),
                catch=(NonFiniteValue,),
                deadline=args.deadline,
                should_stop=STOP.is_set,
                on_trial=done_counter(args.done),
                orphan_after_s=_orphan_after(cfg),
                reserve=args.slots.take,
                release=args.slots.give_back,
                reserved_left=lambda: args.slots.left,
            )
        except Interrupted:
            report["interrupted"] = True
        report["loop_s"] = time.perf_counter() - loop_start
        write_report(args.report_dir, args.index, report)
    except Exception as exc:
        if isinstance(exc, ServiceError):
            report["service_error"] = str(exc)  # one line for the user, no traceback
        elif isinstance(exc, UserError):
            report["user_error"] = str(exc)  # e.g. a user objective that raised
        report["error"] = f"{type(exc).__name__}: {exc}"
        report["traceback"] = traceback.format_exc()
        write_report(args.report_dir, args.index, report)
        raise SystemExit(1) from None
    finally:
        if pool is not None:
            pool.terminate()
            pool.join()


def _orphan_after(cfg: OptimizeConfig) -> float:
    """Seconds a waiting worker gives a supervisor or heartbeat before failing dead trials."""
    return float(max(10, 2 * cfg.heartbeat_grace + 5 * cfg.heartbeat_interval))
