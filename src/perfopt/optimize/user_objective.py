"""A user's own Optuna objective as a `TrialTask`: the plans run it like the built-in ones.

The objective is named by a SPEC, `path/to/file.py:function` or `package.module:function`
(or given as a callable through the Python API). `UserTask` holds the SPEC, not the
function, so it pickles under spawn: each worker process imports the objective itself
(a forked worker inherits the parent's import). An optional setup SPEC runs once per
worker process; its seconds are the worker's start-up (`load_s`), and its return value
is the objective's second argument when the objective takes two.

Each trial runs the function with a `StageTimer` active (`perfopt.stage` blocks inside
it are recorded), checks what it returned (a number per direction; NaN and infinity
follow --nan-policy) and stores `timers` {stages..., total, optuna} like the built-in
objectives, so exact trial counts, heartbeat, resume, Ctrl-C and the summary apply.
An exception raised by the objective stops the run (as in `study.optimize`): the
message names it, its last line and where it was raised.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from perfopt.errors import UserError
from perfopt.optimize.config import OptimizeConfig
from perfopt.optimize.storages import StorageSpec, resolve_storage
from perfopt.optimize.tasks import TrialTask
from perfopt.optimize.user_spec import (
    ObjectiveError,
    callable_label,
    importable_spec,
    is_spec,
    last_line,
    load_callable,
    takes_two,
    where_raised,
)

# is_spec and importable_spec are used through this module by the CLI and the API.
__all__ = [
    "DIRECTIONS",
    "ObjectiveError",
    "UserObjective",
    "UserTask",
    "check_config",
    "check_directions",
    "check_picklable",
    "format_user_summary",
    "importable_spec",
    "is_spec",
    "load_callable",
    "run_user_objective",
]

RESERVED_STAGES = ("total", "optuna")
DIRECTIONS = ("minimize", "maximize")


@dataclass(frozen=True)
class UserTask(TrialTask):
    """A user's objective (SPEC or callable), its optional per-process setup, directions."""

    objective: Any  # SPEC string, or a callable (Python API)
    setup: Any = None  # SPEC string, callable, or None
    directions: tuple[str, ...] = ("minimize",)
    nan_policy: str = "fail"
    nan_penalty: float = -10.0

    @property
    def label(self) -> str:
        """The objective's SPEC (or module:name of a callable)."""
        return self.objective if isinstance(self.objective, str) else callable_label(self.objective)

    @property
    def setup_label(self) -> str | None:
        """The setup's SPEC or module:name, None without one."""
        if self.setup is None:
            return None
        return self.setup if isinstance(self.setup, str) else callable_label(self.setup)

    @property
    def n_steps(self) -> int:
        """Unknown: the objective reports whatever steps it likes (pruners size themselves)."""
        return 0

    def fingerprint(self) -> dict[str, Any]:
        """Objective, setup, NaN policy: a resumed study must name the same ones."""
        fp: dict[str, Any] = {
            "objective": self.label,
            "setup": self.setup_label,
            "nan_policy": self.nan_policy,
        }
        if self.nan_policy == "penalty":
            fp["nan_penalty"] = self.nan_penalty
        return fp

    def load(self) -> tuple[Callable[..., Any], Callable[..., Any] | None]:
        """(objective, setup or None) as callables, importing SPECs in this process."""
        fn = (
            load_callable(self.objective, "--objective")
            if isinstance(self.objective, str)
            else self.objective
        )
        setup = self.setup
        if isinstance(setup, str):
            setup = load_callable(setup, "--objective-setup")
        accepts, requires = takes_two(fn)
        if setup is not None and not accepts:
            raise UserError(
                f"--objective-setup {self.setup_label}: the objective {self.label} takes one "
                "argument (trial); add a second parameter to receive the setup's return value"
            )
        if setup is None and requires:
            raise UserError(
                f"--objective {self.label} needs two arguments (trial, data): give "
                "--objective-setup SPEC (a function run once per worker process) or give "
                "the second parameter a default"
            )
        return fn, setup

    def build(self, cfg: OptimizeConfig, pool: Any = None) -> tuple[Any, dict[str, Any]]:
        """The wrapped objective; the setup runs here (its seconds are `load_s`)."""
        start = time.perf_counter()
        fn, setup = self.load()
        import_s = time.perf_counter() - start
        data: Any = None
        load_s = None
        if setup is not None:
            start = time.perf_counter()
            try:
                data = setup()
            except Exception as exc:
                raise ObjectiveError(
                    f"--objective-setup {self.setup_label} raised {last_line(exc)} "
                    f"(at {where_raised(exc)})"
                ) from exc
            load_s = time.perf_counter() - start
        objective = UserObjective(
            fn, setup is not None, data, self.label, self.directions,
            self.nan_policy, self.nan_penalty,
        )  # fmt: skip
        return objective, {"load_s": load_s, "warmup_s": import_s}


# Trial methods an objective calls whose time is Optuna's (sampler, storage), not the
# objective's: timed into the trial's `optuna` timer so `total` is the user's own work.
TRIAL_CALLS = (
    "suggest_float", "suggest_int", "suggest_categorical", "suggest_uniform",
    "suggest_loguniform", "suggest_discrete_uniform", "report", "should_prune",
    "set_user_attr",
)  # fmt: skip


def _time_trial_calls(trial: Any, clock: Any) -> None:
    """Shadow the trial's methods on the instance with timed ones (isinstance still holds).

    Only the outermost call counts (a deprecated suggest_* calls suggest_float).
    """
    depth = [0]

    def timed(method: Callable[..., Any]) -> Callable[..., Any]:
        def call(*args: Any, **kwargs: Any) -> Any:
            if depth[0]:
                return method(*args, **kwargs)
            depth[0] += 1
            try:
                return clock.call(method, *args, **kwargs)
            finally:
                depth[0] -= 1

        return call

    for name in TRIAL_CALLS:
        method = getattr(trial, name, None)
        if method is not None:
            try:
                setattr(trial, name, timed(method))
            except AttributeError:  # a trial type without an instance dict: untimed
                return


def penalty_for(direction: str, penalty: float) -> float:
    """The --nan-penalty on the bad side of a direction: -|P| maximized, +|P| minimized."""
    return -abs(penalty) if direction == "maximize" else abs(penalty)


class UserObjective:
    """Calls the user's function for one trial: stage timers, value checks, attributes."""

    def __init__(
        self,
        fn: Callable[..., Any],
        pass_data: bool,
        data: Any,
        label: str,
        directions: tuple[str, ...],
        nan_policy: str,
        nan_penalty: float,
    ) -> None:
        self.fn = fn
        self.pass_data = pass_data
        self.data = data
        self.label = label
        self.directions = directions
        self.nan_policy = nan_policy
        self.nan_penalty = nan_penalty

    def __call__(self, trial: Any) -> Any:
        import optuna

        from perfopt import stages
        from perfopt.optimize._bootstrap import Interrupted, check_stop
        from perfopt.optimize.objective import NonFiniteValue, OptunaClock
        from perfopt.optimize.studies import mark_worker
        from perfopt.stage_timer import StageTimer

        start = time.perf_counter()
        clock = OptunaClock()
        clock.call(mark_worker, trial)
        _time_trial_calls(trial, clock)
        timer = StageTimer()
        token = stages.activate(timer, check_stop)
        outcome: BaseException | None = None
        raw: Any = None
        try:
            raw = self.fn(trial, self.data) if self.pass_data else self.fn(trial)
        except (optuna.TrialPruned, Interrupted) as exc:
            outcome = exc
        except Exception as exc:
            outcome = ObjectiveError(
                f"objective {self.label} raised in trial {trial.number}: {last_line(exc)} "
                f"(at {where_raised(exc)}); the run stops, as study.optimize would (the trial is "
                "FAIL and does not count)"
            )
            outcome.__cause__ = exc
        finally:
            stages.deactivate(token)
        total = time.perf_counter() - start - clock.seconds
        attrs: dict[str, Any] = {"timers": self._timers(timer, total, clock.seconds)}
        result: Any = None
        if outcome is None:
            values = self._values(raw, trial.number)
            bad = [i for i, v in enumerate(values) if not math.isfinite(v)]
            if bad:
                reason = f"objective returned {', '.join(str(values[i]) for i in bad)}"
                if self.nan_policy == "fail":
                    attrs["fail_reason"] = reason
                    outcome = NonFiniteValue(reason)
                else:
                    attrs["penalized"] = reason
                    for i in bad:
                        values[i] = penalty_for(self.directions[i], self.nan_penalty)
            result = values[0] if len(values) == 1 else values
        if isinstance(outcome, Interrupted):
            attrs["interrupted"] = True
        for key, value in attrs.items():
            trial.set_user_attr(key, value)
        if outcome is not None:
            raise outcome
        return result

    def _timers(self, timer: Any, total: float, optuna_s: float) -> dict[str, float]:
        stages = timer.as_dict()
        clash = [name for name in RESERVED_STAGES if name in stages]
        if clash:
            raise ObjectiveError(
                f"objective {self.label}: stage name {clash[0]!r} is reserved (perfopt records "
                "the trial's total and Optuna's share under it); rename the stage"
            )
        return {**stages, "total": total, "optuna": optuna_s}

    def _values(self, raw: Any, number: int) -> list[float]:
        """The returned value(s) as floats, or ObjectiveError saying what is wrong."""
        n = len(self.directions)
        many = not isinstance(raw, str | bytes) and hasattr(raw, "__len__")
        if many and getattr(raw, "ndim", 1) == 0:  # numpy/torch scalars have __len__ raising
            many = False
        items = list(raw) if many else [raw]
        if len(items) != n:
            raise ObjectiveError(
                f"objective {self.label} returned {len(items)} value(s) in trial {number} but "
                f"the study has {n} direction(s) ({', '.join(self.directions)}); return "
                + ("one number" if n == 1 else f"{n} numbers")
                + (" or set --directions to match" if n > 1 or len(items) > 1 else "")
            )
        values: list[float] = []
        for item in items:
            if isinstance(item, str | bytes | bool) or item is None:
                ok = False
            else:
                try:
                    values.append(float(item))
                    ok = True
                except (TypeError, ValueError):
                    ok = False
            if not ok:
                raise ObjectiveError(
                    f"objective {self.label} returned {item!r} ({type(item).__name__}) in trial "
                    f"{number}; an Optuna objective returns a number"
                    + (f" per direction ({n})" if n > 1 else "")
                )
        return values


def check_directions(direction: str | None, directions: str | None, multi: bool) -> tuple[str, ...]:
    """The study directions from --direction / --directions / --multi-objective."""
    if directions is not None:
        items = tuple(d.strip().lower() for d in directions.split(",") if d.strip())
        bad = [d for d in items if d not in DIRECTIONS]
        if bad or not items:
            raise UserError(
                f"--directions {directions!r}: give minimize or maximize per value, "
                "comma-separated (e.g. maximize,minimize)"
            )
        if direction is not None:
            raise UserError("--direction and --directions together: give one of them")
        if len(items) > 1 and not multi:
            raise UserError(
                f"--directions {directions} names {len(items)} values: add --multi-objective"
            )
        return items
    if multi:
        raise UserError(
            "--multi-objective with --objective SPEC needs --directions (one per returned "
            "value, e.g. --directions maximize,minimize)"
        )
    d = (direction or "minimize").lower()
    if d not in DIRECTIONS:
        raise UserError(f"--direction {direction!r}: choose minimize or maximize")
    return (d,)


def check_config(cfg: OptimizeConfig) -> None:
    """Refuse the plans a user objective cannot take."""
    if cfg.mode in ("backtest", "hybrid"):
        raise UserError(
            f"--parallel-mode {cfg.mode} splits a trial's windows over a process pool, which "
            "only perfopt's own strategy has; a user objective runs whole trials: use "
            "--parallel-mode trial (worker processes) or thread, and parallelize inside your "
            "objective if it needs to"
        )


def check_picklable(cfg: OptimizeConfig, task: UserTask, spec: StorageSpec) -> None:
    """Under spawn/forkserver the task is pickled to each worker: say so when it cannot be."""
    import pickle

    # A storage no other process can share runs the trials in this process: no pickling.
    in_process = not spec.storage_kind.multi_process
    if not cfg.uses_trial_processes or in_process or cfg.start_method == "fork":
        return
    if cfg.executor == "dask":
        return  # Dask pickles with cloudpickle, which takes lambdas and closures
    try:
        pickle.dumps(task)
    except Exception as exc:  # noqa: BLE001 - pickle raises many types
        raise UserError(
            f"objective {task.label} cannot be pickled for --start-method {cfg.start_method} "
            f"({last_line(exc)}): define it at module level in a .py file (not a lambda, "
            "nested function or bound method) and pass 'file.py:function', or use "
            "--start-method fork"
        ) from None


def run_user_objective(
    cfg: OptimizeConfig,
    task: UserTask,
    summary_json: Path | None = None,
    keep_study: list[Any] | None = None,
) -> dict[str, Any]:
    """Run (or resume) a study of a user objective until it holds cfg.n_trials; summarize."""
    from perfopt.optimize.api import prepare_storage, run_task, write_json
    check_config(cfg)
    cfg = cfg.validated()
    spec = resolve_storage(cfg.storage, cfg.storage_url_env, cfg.study_name)
    task.load()  # bad SPECs and signatures fail here, before any worker starts
    check_picklable(cfg, task, spec)
    warnings = prepare_storage(cfg, spec)
    summary = run_task(cfg, spec, task, warnings, keep_study=keep_study)
    summary["objective"] = {"spec": task.label, "setup": task.setup_label}
    if summary_json is not None:
        write_json(summary_json, summary)
    return summary


def format_user_summary(summary: dict[str, Any]) -> str:
    """The run summary's lines, with a plan line that names only what applies."""
    from perfopt.optimize.summary import format_summary

    plan = summary["plan"]
    lines = format_summary(summary).splitlines()
    plan_line = (
        f"plan: {plan['mode']} n_jobs={plan['n_jobs']} start={plan['start_method']} "
        f"blas_threads={plan['blas_threads']} sampler={plan['sampler']} pruner={plan['pruner']}"
        + (f" executor=dask at {plan['dask_scheduler']}" if plan.get("executor") == "dask" else "")
    )
    obj = summary.get("objective") or {}
    head = f"objective {obj.get('spec')}" + (
        f" (setup {obj['setup']})" if obj.get("setup") else ""
    )
    out = [head]
    for line in lines:
        out.append(plan_line if line.startswith("plan:") else line)
    return "\n".join(out)
