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

import hashlib
import importlib
import importlib.util
import inspect
import math
import sys
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from perfopt.errors import UserError
from perfopt.optimize.config import OptimizeConfig
from perfopt.optimize.tasks import TrialTask

RESERVED_STAGES = ("total", "optuna")
DIRECTIONS = ("minimize", "maximize")


class ObjectiveError(UserError):
    """The user's objective raised, or returned something Optuna cannot store."""


def is_spec(text: str) -> bool:
    """Whether a --objective value names a function (has a ':') rather than a metric."""
    return ":" in text


def _where(exc: BaseException) -> str:
    """'file:line' of the innermost frame of an exception's traceback."""
    frames = traceback.extract_tb(exc.__traceback__)
    if not frames:
        return "unknown place"
    last = frames[-1]
    return f"{last.filename}:{last.lineno}"


def _last_line(exc: BaseException) -> str:
    """The exception's own last line: 'Type: message'."""
    return traceback.format_exception_only(type(exc), exc)[-1].strip()


def _module_name(path: Path) -> str:
    # One stable name per file: a second load (or a forked worker) reuses the module.
    digest = hashlib.sha1(str(path).encode()).hexdigest()[:8]
    stem = "".join(c if c.isalnum() else "_" for c in path.stem)
    return f"perfopt_user_{stem}_{digest}"


def _import_file(path: Path, spec: str, flag: str) -> Any:
    if not path.is_file():
        raise UserError(
            f"{flag} {spec}: file {path} not found; give path/to/file.py:function "
            "(relative to the current folder) or package.module:function"
        )
    name = _module_name(path.resolve())
    if name in sys.modules:
        return sys.modules[name]
    # Like `python file.py`: the file's folder is importable, so its sibling modules are.
    folder = str(path.resolve().parent)
    if folder not in sys.path:
        sys.path.insert(0, folder)
    loader_spec = importlib.util.spec_from_file_location(name, path)
    if loader_spec is None or loader_spec.loader is None:
        raise UserError(f"{flag} {spec}: {path} cannot be imported as Python source")
    module = importlib.util.module_from_spec(loader_spec)
    sys.modules[name] = module
    try:
        loader_spec.loader.exec_module(module)
    except Exception as exc:
        del sys.modules[name]
        raise UserError(
            f"{flag} {spec}: importing {path} raised {_last_line(exc)} (at {_where(exc)})"
        ) from exc
    return module


def _import_module(module_name: str, spec: str, flag: str) -> Any:
    try:
        return importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name and (module_name == exc.name or module_name.startswith(exc.name + ".")):
            raise UserError(
                f"{flag} {spec}: no module named {exc.name!r}; give path/to/file.py:function "
                "or an importable package.module:function"
            ) from None
        raise UserError(
            f"{flag} {spec}: importing {module_name} raised {_last_line(exc)} (at {_where(exc)})"
        ) from exc
    except Exception as exc:
        raise UserError(
            f"{flag} {spec}: importing {module_name} raised {_last_line(exc)} (at {_where(exc)})"
        ) from exc


def load_callable(spec: str, flag: str = "--objective") -> Callable[..., Any]:
    """Import SPEC ('file.py:function' or 'pkg.module:function') and return the function."""
    target, sep, attr = spec.rpartition(":")
    if not sep or not target.strip() or not attr.strip():
        raise UserError(
            f"{flag} {spec!r}: expected path/to/file.py:function or package.module:function"
        )
    target, attr = target.strip(), attr.strip()
    if target.endswith(".py") or "/" in target or "\\" in target:
        module = _import_file(Path(target).expanduser(), spec, flag)
        where = target
    else:
        module = _import_module(target, spec, flag)
        where = f"module {target}"
    obj: Any = module
    for part in attr.split("."):
        if not hasattr(obj, part):
            names = sorted(
                n for n, v in vars(module).items() if callable(v) and not n.startswith("_")
            )[:12]
            raise UserError(
                f"{flag} {spec}: {where} has no {attr!r}"
                + (f"; its functions: {', '.join(names)}" if names else "")
            )
        obj = getattr(obj, part)
    if not callable(obj):
        raise UserError(
            f"{flag} {spec}: {attr} in {where} is a {type(obj).__name__}, not a function"
        )
    return obj


def callable_label(fn: Any) -> str:
    """'module:qualname' of a callable (its name in summaries and the study fingerprint)."""
    module = getattr(fn, "__module__", None) or "?"
    name = getattr(fn, "__qualname__", None) or type(fn).__name__
    return f"{module}:{name}"


def importable_spec(fn: Any) -> str | None:
    """A 'module:qualname' SPEC that imports `fn` in another process, or None."""
    module = getattr(fn, "__module__", None)
    name = getattr(fn, "__qualname__", "")
    if not module or module == "__main__" or module.startswith("perfopt_user_"):
        return None
    if "<" in name:  # lambdas and nested functions
        return None
    try:
        obj: Any = importlib.import_module(module)
        for part in name.split("."):
            obj = getattr(obj, part)
    except Exception:  # noqa: BLE001 - not importable: the callable travels by pickle
        return None
    return f"{module}:{name}" if obj is fn else None


def takes_two(fn: Callable[..., Any]) -> tuple[bool, bool]:
    """(accepts a second positional argument, requires one)."""
    try:
        params = list(inspect.signature(fn).parameters.values())
    except (TypeError, ValueError):
        return True, False  # builtins and some C callables: trust the user
    positional = [
        p for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
    ]
    varargs = any(p.kind == p.VAR_POSITIONAL for p in params)
    required = [p for p in positional if p.default is p.empty]
    return (len(positional) >= 2 or varargs), len(required) >= 2


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
                    f"--objective-setup {self.setup_label} raised {_last_line(exc)} "
                    f"(at {_where(exc)})"
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
        from perfopt.profiling import StageTimer

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
                f"objective {self.label} raised in trial {trial.number}: {_last_line(exc)} "
                f"(at {_where(exc)}); the run stops, as study.optimize would (the trial is "
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


def check_picklable(cfg: OptimizeConfig, task: UserTask, storage_kind: str) -> None:
    """Under spawn/forkserver the task is pickled to each worker: say so when it cannot be."""
    import pickle

    if not cfg.uses_trial_processes or storage_kind == "memory" or cfg.start_method == "fork":
        return
    if cfg.executor == "dask":
        return  # Dask pickles with cloudpickle, which takes lambdas and closures
    try:
        pickle.dumps(task)
    except Exception as exc:  # noqa: BLE001 - pickle raises many types
        raise UserError(
            f"objective {task.label} cannot be pickled for --start-method {cfg.start_method} "
            f"({_last_line(exc)}): define it at module level in a .py file (not a lambda, "
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
    from perfopt.optimize.storages import resolve_storage

    check_config(cfg)
    cfg = cfg.validated()
    spec = resolve_storage(cfg.storage, cfg.storage_url_env, cfg.study_name)
    task.load()  # bad SPECs and signatures fail here, before any worker starts
    check_picklable(cfg, task, spec.kind)
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
