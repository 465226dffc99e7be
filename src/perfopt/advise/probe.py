"""The measurements behind `perfopt advise`, each within a share of the time budget.

- `probe_trial`: a few trials in this process on in-memory storage: the objective's own
  time per trial, its stages, Optuna's share, and CPU seconds per wall second (about 1
  for a CPU-bound Python objective, about 0 for one that waits on IO or sleeps; above 1
  when native threads compute).
- `probe_storages`: Optuna's cost per trial (TPE sampler, a constant objective) on each
  candidate storage.
- `probe_startup`: seconds from starting a worker process to the objective imported and
  its setup run, per start method.
- `probe_scaling`: whole runs of the objective through `perfopt optimize`'s plans (1 and
  2 worker processes, 2 Optuna threads) on a journal file, repeated and interleaved;
  trials/s per run.
"""

from __future__ import annotations

import multiprocessing
import os
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from perfopt.optimize.user_objective import UserTask


@dataclass
class TrialProbe:
    """One trial's cost in this process."""

    trials: int
    trial_s: float  # the objective's own seconds per trial (median)
    optuna_s: float  # Optuna calls per trial (suggest, report, attributes)
    cpu_per_wall: float  # process CPU seconds per wall second during the trials
    stages: dict[str, float] = field(default_factory=dict)  # seconds per trial
    thread_pools: dict[str, int] = field(default_factory=dict)
    first_s: float = 0.0  # the first trial (imports, caches): not in trial_s


@dataclass
class ScalingRuns:
    """trials/s of each repeat of each plan, in the order they ran."""

    trials_per_run: int
    rates: dict[str, list[float]] = field(default_factory=dict)  # plan -> trials/s per run


def probe_trial(task: UserTask, n: int = 3) -> TrialProbe:
    """Run 1 + n trials in this process (in-memory storage, random sampler)."""
    import statistics

    import optuna

    from perfopt.machine import thread_pools
    from perfopt.optimize.config import OptimizeConfig
    from perfopt.optimize.objective import NonFiniteValue

    objective, _ = task.build(OptimizeConfig(data_dir=Path.cwd()))
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    study = optuna.create_study(
        directions=list(task.directions), sampler=optuna.samplers.RandomSampler(seed=0)
    )
    start = time.perf_counter()
    study.optimize(objective, n_trials=1, catch=(NonFiniteValue,))
    first = time.perf_counter() - start
    wall0, cpu0 = time.perf_counter(), time.process_time()
    study.optimize(objective, n_trials=n, catch=(NonFiniteValue,))
    wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
    timed = [t.user_attrs["timers"] for t in study.trials[1:] if "timers" in t.user_attrs]
    failed = [t for t in study.trials if t.state == optuna.trial.TrialState.FAIL]
    if not timed or len(failed) == len(study.trials):
        from perfopt.errors import UserError

        reason = failed[-1].user_attrs.get("fail_reason", "") if failed else ""
        raise UserError(f"objective {task.label} failed every probe trial {reason}".rstrip())
    stages: dict[str, float] = {}
    for tm in timed:
        for k, v in tm.items():
            if k not in ("total", "optuna"):
                stages[k] = stages.get(k, 0.0) + v / len(timed)
    return TrialProbe(
        trials=len(timed),
        trial_s=statistics.median(tm["total"] for tm in timed),
        optuna_s=statistics.median(tm["optuna"] for tm in timed),
        cpu_per_wall=cpu / wall if wall > 0 else 0.0,
        stages=stages,
        thread_pools=thread_pools(),
        first_s=first,
    )


def storage_urls(folder: Path, extra: str | None) -> dict[str, str]:
    """Candidate storages: in-memory, a journal file, a SQLite file, and `extra` if given."""
    urls = {
        "memory": "memory",
        "journal": f"journal://{folder / 'probe.log'}",
        "sqlite": f"sqlite:///{folder / 'probe.db'}",
    }
    if extra:
        from perfopt.optimize.storages import resolve_storage

        urls[resolve_storage(extra, "", "probe").kind] = extra
    return urls


def probe_storages(urls: dict[str, str], n: int = 20) -> dict[str, float]:
    """Optuna's seconds per trial (TPE, a constant objective) on each storage."""
    import optuna

    from perfopt.optimize.storages import open_storage, resolve_storage

    optuna.logging.set_verbosity(optuna.logging.ERROR)
    out: dict[str, float] = {}

    def constant(trial: Any) -> float:
        return trial.suggest_float("x", 0.0, 1.0)

    for kind, url in urls.items():
        name = f"perfopt-advise-{uuid.uuid4().hex[:10]}"
        spec = resolve_storage(url, "", name)
        storage = open_storage(spec)
        study = optuna.create_study(
            study_name=name, storage=storage, sampler=optuna.samplers.TPESampler(seed=0)
        )
        start = time.perf_counter()
        study.optimize(constant, n_trials=n)
        out[kind] = (time.perf_counter() - start) / n
        if spec.storage_kind.server:
            optuna.delete_study(study_name=name, storage=storage)  # a shared server: tidy
    return out


def _startup_child(task: UserTask, conn: Any) -> None:
    """Import the objective and run its setup, then tell the parent."""
    from perfopt.optimize.config import OptimizeConfig

    task.build(OptimizeConfig(data_dir=Path.cwd()))
    conn.send(os.getpid())
    conn.close()


def probe_startup(task: UserTask, methods: tuple[str, ...], timeout: float = 120.0) -> dict[str, float]:
    """Seconds from Process.start() to the objective imported and set up, per start method."""
    out: dict[str, float] = {}
    for method in methods:
        if method not in multiprocessing.get_all_start_methods():
            continue
        ctx = multiprocessing.get_context(method)
        parent, child = ctx.Pipe(duplex=False)
        proc = ctx.Process(target=_startup_child, args=(task, child), daemon=True)
        start = time.perf_counter()
        proc.start()
        child.close()
        if parent.poll(timeout):
            try:
                parent.recv()
                out[method] = time.perf_counter() - start
            except EOFError:
                pass  # the child died: its start-up is not a number
        proc.join(timeout=10)
        if proc.is_alive():
            proc.kill()
    return out


PLANS = {"1 process": ("trial", 1), "2 processes": ("trial", 2), "2 threads": ("thread", 2)}


def probe_scaling(
    task: UserTask, trials: int, repeats: int, start_method: str, folder: Path
) -> ScalingRuns:
    """Each plan `repeats` times, interleaved (1p, 2p, 2t, 1p, ...), `trials` trials a run."""
    from perfopt.optimize.config import OptimizeConfig
    from perfopt.optimize.user_objective import run_user_objective

    runs = ScalingRuns(trials, {name: [] for name in PLANS})
    for r in range(repeats):
        for name, (mode, n_jobs) in PLANS.items():
            study = f"advise-{r}-{mode}-{n_jobs}-{uuid.uuid4().hex[:6]}"
            cfg = OptimizeConfig(
                data_dir=folder,
                n_trials=trials,
                study_name=study,
                storage=f"journal://{folder / (study + '.log')}",
                mode=mode,
                n_jobs=n_jobs,
                start_method=start_method,
                seed=r,
                sampler="random",  # the sampler's own cost is the storage probe's business
            )
            summary = run_user_objective(cfg, task)
            runs.rates[name].append(summary["trials_per_s"])
    return runs


def temp_folder() -> Path:
    """A fresh folder for the probe's storages."""
    return Path(tempfile.mkdtemp(prefix="perfopt-advise-"))
