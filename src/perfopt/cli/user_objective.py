"""`perfopt optimize --objective SPEC`: the flags of a user's own objective and the run.

Kept apart from perfopt.cli.optimize (which registers these flags in its parser and
hands the run here) so the built-in modes' code stays as it was.
"""

from __future__ import annotations

import argparse
import sys

from perfopt.cli import checks

METRICS = ("sharpe", "total_return")
_GRID_FLAGS_FOR_USER = ("multi_objective", "population_size", "crossover_prob")


def add_flags(group: argparse._ArgumentGroup) -> None:
    """--objective, --objective-setup, --direction, --directions."""
    group.add_argument(
        "--objective",
        default=None,
        metavar="SPEC",
        help="your Optuna objective: path/to/file.py:function or package.module:function, "
        "f(trial) -> float (or f(trial, data) with --objective-setup). The old values "
        "sharpe/total_return still pick the grid's metric (deprecated: use --metric)",
    )
    group.add_argument(
        "--objective-setup",
        default=None,
        metavar="SPEC",
        help="a function run once per worker process (load data there); its time is the "
        "worker's start-up and its return value the objective's second argument",
    )
    group.add_argument(
        "--direction",
        choices=["minimize", "maximize"],
        default=None,
        help="optimization direction of the objective's value (default minimize, as Optuna)",
    )
    group.add_argument(
        "--directions",
        type=checks.non_empty,
        default=None,
        metavar="D1,D2",
        help="one direction per returned value, with --multi-objective "
        "(e.g. maximize,minimize)",
    )


def wants_user_objective(args: argparse.Namespace) -> bool:
    """True for --objective SPEC; maps the deprecated metric words onto --metric."""
    from perfopt.errors import UserError
    from perfopt.optimize.user_objective import is_spec

    value = args.objective
    if value is None:
        return False
    if value in METRICS:
        if args.metric != "sharpe" and args.metric != value:
            raise UserError(f"--objective {value} and --metric {args.metric}: give --metric only")
        print(
            f"perfopt: note: --objective {value} is deprecated for the grid's metric; use "
            f"--metric {value} (--objective now names your own objective, file.py:function)",
            file=sys.stderr,
        )
        args.metric, args.objective = value, None
        return False
    if not is_spec(value):
        raise UserError(
            f"--objective {value!r}: give path/to/file.py:function or package.module:function "
            f"(your objective), or use --metric {'|'.join(METRICS)} for the grid's metric"
        )
    return True


def _refuse_builtin_flags(args: argparse.Namespace) -> None:
    from perfopt.errors import UserError

    builtin = {
        **{k: v for k, v in args._only_daily.items() if k != "study_name"},
        **{k: v for k, v in args._only_grid.items() if k not in _GRID_FLAGS_FOR_USER},
        "data": None,
        "fee": None,
    }
    given = [d for d, default in builtin.items() if getattr(args, d) != default]
    if given:
        flags = ", ".join("--" + d.replace("_", "-") for d in given)
        raise UserError(
            f"{flags}: flag(s) of perfopt's own strategy, not for --objective SPEC (your "
            "objective loads its own data and defines its own search space); drop them"
        )


def run(args: argparse.Namespace) -> int:
    """Run the user's objective with the plan the flags give; print the summary."""
    from pathlib import Path

    from perfopt.optimize.config import OptimizeConfig
    from perfopt.optimize.user_objective import (
        UserTask,
        check_directions,
        format_user_summary,
        run_user_objective,
    )

    _refuse_builtin_flags(args)
    multi = bool(args.multi_objective)
    directions = check_directions(args.direction, args.directions, multi)
    task = UserTask(
        args.objective, args.objective_setup, directions, args.nan_policy, args.nan_penalty
    )
    cfg = OptimizeConfig(
        data_dir=Path.cwd(),
        n_trials=args.n_trials,
        study_name=args.study_name or args.objective.rpartition(":")[2].strip(),
        timeout=args.timeout,
        storage=args.storage,
        storage_url_env=args.storage_url_env,
        mode=args.parallel_mode,
        n_jobs=args.n_jobs,
        start_method=args.start_method,
        blas_threads=args.blas_threads,
        sampler=args.sampler or ("nsga2" if multi else "tpe"),
        pruner=args.pruner,
        seed=args.seed,
        run_id=args.run_id,
        nan_policy=args.nan_policy,
        nan_penalty=args.nan_penalty,
        heartbeat_interval=args.heartbeat_interval,
        heartbeat_grace=args.heartbeat_grace,
        progress=not args.no_progress,
        multi_objective=multi,
        population_size=args.population_size,
        crossover_prob=args.crossover_prob,
        executor=args.executor,
        dask_scheduler=args.dask_scheduler,
    )
    summary = run_user_objective(cfg, task, summary_json=args.summary_json)
    print(format_user_summary(summary))
    where = f"; summary written to {args.summary_json}" if args.summary_json else ""
    print(f"study {summary['study']} saved in {summary['storage']['url']}{where}")
    return 130 if summary["interrupted"] else 0
