"""`perfopt.optimize(objective, ...)`: the Python API over `perfopt optimize --objective`.

    import perfopt

    def objective(trial):
        x = trial.suggest_float("x", -10, 10)
        with perfopt.stage("compute"):
            return (x - 2) ** 2

    if __name__ == "__main__":
        study = perfopt.optimize(objective, n_trials=100, n_jobs=2,
                                 storage="journal:///tmp/demo.log")
        print(study.best_params)

Same plans, checks and summary as the command line (docs/your-objective.md).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from perfopt.errors import UserError

log = logging.getLogger(__name__)


def optimize(
    objective: Callable[..., Any] | str,
    n_trials: int = 100,
    *,
    n_jobs: int = 1,
    storage: str | None = None,
    study_name: str | None = None,
    timeout: float | None = None,
    mode: str = "trial",
    start_method: str = "fork",
    blas_threads: int | None = None,
    sampler: str | None = None,
    pruner: str = "none",
    seed: int | None = None,
    direction: str | None = None,
    directions: Sequence[str] | None = None,
    setup: Callable[[], Any] | str | None = None,
    nan_policy: str = "fail",
    nan_penalty: float = 10.0,
    heartbeat_interval: int = 2,
    heartbeat_grace: int = 6,
    run_id: str | None = None,
    summary_json: str | Path | None = None,
    progress: bool = False,
) -> Any:
    """Run (or resume) an Optuna study of `objective` until it holds `n_trials`; return it.

    `objective` is a function f(trial) (or f(trial, data) with `setup`) or a SPEC string
    'file.py:function' / 'package.module:function'. `mode` "trial" runs `n_jobs` worker
    processes on the shared `storage` ("memory", "sqlite:///f.db", "journal:///f.log",
    "postgresql+psycopg://..."; default $OPTUNA_STORAGE_URL, else
    studies/<study_name>.db); "thread" runs Optuna's own `n_jobs` threads. `direction`
    defaults to "minimize"; give `directions` for several values. The run's summary
    (counts, trials/s, stage timers, IO ratio) is logged at INFO and written to
    `summary_json` when given.
    """
    from perfopt.optimize.config import OptimizeConfig
    from perfopt.optimize.user_objective import (
        UserTask,
        check_directions,
        importable_spec,
        run_user_objective,
    )

    if isinstance(directions, str):
        raise UserError("directions= takes a list, e.g. ['maximize', 'minimize']")
    multi = directions is not None and len(directions) > 1
    dirs = check_directions(
        direction, None if directions is None else ",".join(directions), multi
    )
    if not (callable(objective) or isinstance(objective, str)):
        raise UserError(
            f"objective must be a function f(trial) or a 'file.py:function' SPEC, "
            f"got {type(objective).__name__}"
        )
    # A module-level function travels to worker processes by name, not by pickle.
    target: Any = objective if isinstance(objective, str) else importable_spec(objective) or objective
    setup_target: Any = setup
    if setup is not None and not isinstance(setup, str):
        setup_target = importable_spec(setup) or setup
    task = UserTask(target, setup_target, dirs, nan_policy, float(nan_penalty))
    name = study_name or _default_name(objective)
    cfg = OptimizeConfig(
        data_dir=Path.cwd(),
        n_trials=n_trials,
        study_name=name,
        timeout=timeout,
        storage=storage,
        mode=mode,
        n_jobs=n_jobs,
        start_method=start_method,
        blas_threads=blas_threads,
        sampler=sampler or ("nsga2" if multi else "tpe"),
        pruner=pruner,
        seed=seed,
        run_id=run_id,
        nan_policy=nan_policy,
        nan_penalty=float(nan_penalty),
        heartbeat_interval=heartbeat_interval,
        heartbeat_grace=heartbeat_grace,
        progress=progress,
        multi_objective=multi,
    )
    kept: list[Any] = []
    summary = run_user_objective(
        cfg, task, None if summary_json is None else Path(summary_json), keep_study=kept
    )
    if log.isEnabledFor(logging.INFO):
        from perfopt.optimize.user_objective import format_user_summary

        log.info("%s", format_user_summary(summary))
    study = kept[0]
    # The summary travels with the study object for callers that want the figures.
    study.perfopt_summary = summary
    return study


def _default_name(objective: Any) -> str:
    """The function's name: a rerun of the same objective resumes its study."""
    if isinstance(objective, str):
        return objective.rpartition(":")[2].strip() or "perfopt"
    name = getattr(objective, "__name__", "") or "perfopt"
    return "objective" if name == "<lambda>" else name
