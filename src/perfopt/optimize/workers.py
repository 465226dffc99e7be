"""Trial worker processes (trial and hybrid modes) and their shared slot counter.

Each worker loads the study from the shared storage and runs `study.optimize` with
its own sampler, seeded from --seed and its worker index. Stopping at exactly
`n_trials` across processes needs a reservation before each trial (a callback that
only looks at the count after a trial overshoots when workers finish together): a
worker takes a slot from a shared counter before its first trial and after each one,
and stops when none is left. The supervisor returns the slot of a worker that died.

A worker writes `worker-<index>.json` (pid, ready time, thread pools, loop time, error)
into the run's report folder; a SIGKILLed worker writes nothing more, which is fine.
"""

from __future__ import annotations

import json
import os
import time
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from perfopt.optimize.config import OptimizeConfig, Window
from perfopt.optimize.storages import StorageSpec


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
        """Return reservations (a dead worker's)."""
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
    windows: tuple[Window, ...]
    tickers: tuple[str, ...]
    n_existing: int
    slots: Slots
    done: Any  # multiprocessing Value('i'): counted trials finished in this run
    report_dir: Path
    started_at: float  # time.time() in the parent just before start()
    deadline: float | None  # time.time() at which no new trial starts
    heartbeat: tuple[int, int] | None
    optuna_verbosity: int  # optuna.logging level for the worker

    @property
    def cap(self) -> int | None:
        """Thread cap of this worker."""
        return self.cfg.thread_cap


class SlotCallback:
    """After each trial: count it, then reserve the next one or stop the study."""

    def __init__(self, slots: Slots, done: Any) -> None:
        self.slots = slots
        self.done = done

    def __call__(self, study: Any, trial: Any) -> None:
        from perfopt.optimize._bootstrap import STOP
        from perfopt.optimize.studies import counts_toward_target

        if counts_toward_target(trial):
            with self.done.get_lock():
                self.done.value += 1
        if STOP.is_set() or not self.slots.take():
            study.stop()


def write_report(report_dir: Path, index: int, report: dict[str, Any]) -> None:
    """Write a worker's report atomically (the supervisor may read it any time)."""
    path = report_dir / f"worker-{index}.json"
    tmp = path.with_suffix(f".{os.getpid()}.tmp")
    tmp.write_text(json.dumps(report))
    tmp.replace(path)


def build_objective(
    cfg: OptimizeConfig, windows: tuple[Window, ...], tickers: tuple[str, ...], pool: Any
) -> tuple[Any, Any]:
    """Return (objective, evaluator or None): in-process windows unless a pool is given."""
    from perfopt.optimize.evaluate import init_process_evaluator
    from perfopt.optimize.objective import Objective

    evaluator = None
    if pool is None:
        evaluator = init_process_evaluator(
            cfg.data_dir, cfg.source, cfg.access, tickers, cfg.fee, windows
        )
    objective = Objective(
        windows,
        cfg.space,
        len(tickers),
        cfg.nan_policy,
        cfg.nan_penalty,
        evaluator,
        pool,
        prune=cfg.pruner != "none",
    )
    return objective, evaluator


def trial_worker_main(args: WorkerArgs) -> None:
    """Run trials of the shared study until the slots, the deadline or SIGINT end it."""
    import optuna

    from perfopt.optimize._bootstrap import Interrupted, thread_pools
    from perfopt.optimize.objective import NonFiniteValue
    from perfopt.optimize.plans import open_window_pool
    from perfopt.optimize.storages import open_storage
    from perfopt.optimize.studies import make_pruner, make_sampler, seed_for

    # Failed and interrupted trials are in the summary; Optuna's tracebacks add only noise.
    optuna.logging.set_verbosity(args.optuna_verbosity)
    cfg = args.cfg
    report: dict[str, Any] = {"index": args.index, "pid": os.getpid()}
    pool = None
    try:
        pool, pool_info = (
            open_window_pool(cfg, args.windows, args.tickers) if cfg.uses_pool else (None, None)
        )
        objective, evaluator = build_objective(cfg, args.windows, args.tickers, pool)
        storage = open_storage(args.storage, args.heartbeat)
        study = optuna.load_study(
            study_name=cfg.study_name,
            storage=storage,
            sampler=make_sampler(cfg.sampler, seed_for(cfg.seed, args.index, args.n_existing)),
            pruner=make_pruner(cfg.pruner, len(args.windows)),
        )
        report.update(
            ready_s=time.time() - args.started_at,
            thread_pools=thread_pools(),
            pool=pool_info,
            load_s=evaluator.load_s if evaluator else None,
            warmup_s=evaluator.warmup_s if evaluator else None,
        )
        write_report(args.report_dir, args.index, report)
        if not args.slots.take():
            return
        timeout = None if args.deadline is None else max(0.01, args.deadline - time.time())
        loop_start = time.perf_counter()
        try:
            study.optimize(
                objective,
                timeout=timeout,
                catch=(NonFiniteValue,),
                callbacks=[SlotCallback(args.slots, args.done)],
            )
        except Interrupted:
            report["interrupted"] = True
        report["loop_s"] = time.perf_counter() - loop_start
        write_report(args.report_dir, args.index, report)
    except Exception as exc:
        report["error"] = f"{type(exc).__name__}: {exc}"
        report["traceback"] = traceback.format_exc()
        write_report(args.report_dir, args.index, report)
        raise SystemExit(1) from None
    finally:
        if pool is not None:
            pool.terminate()
            pool.join()
