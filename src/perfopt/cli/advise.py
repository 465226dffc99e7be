"""`perfopt advise --objective SPEC`: probe an objective briefly and print a recommended plan."""

from __future__ import annotations

import argparse

from perfopt.cli import checks


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the `advise` subcommand."""
    p = subparsers.add_parser(
        "advise",
        help="probe your Optuna objective briefly and recommend a parallel plan",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description=(
            "Measure, within --budget: one trial's time and where it goes (stages, Optuna\n"
            "calls, CPU per wall second); Optuna's cost per trial on in-memory, journal and\n"
            "SQLite storages (and --storage URL); worker start-up per start method; and\n"
            "trials/s with 1 and 2 worker processes and 2 threads, repeated and interleaved.\n"
            "Then print the plan it recommends (mode, n_jobs, start method, storage, BLAS\n"
            "threads), each choice with the measured reason, and the command to run it.\n"
            "  perfopt advise --objective examples/sklearn_objective.py:objective --budget 120s"
        ),
    )
    p.add_argument("--objective", required=True, metavar="SPEC",
                   help="path/to/file.py:function or package.module:function")  # fmt: skip
    p.add_argument("--objective-setup", default=None, metavar="SPEC",
                   help="a function run once per worker process (see perfopt optimize)")  # fmt: skip
    p.add_argument("--direction", choices=["minimize", "maximize"], default="minimize",
                   help="the objective's direction (default minimize)")  # fmt: skip
    p.add_argument("--budget", default="120s", metavar="TIME",
                   help="about how long the probe may take: 120s, 2m (default 120s)")  # fmt: skip
    p.add_argument("--storage", type=checks.non_empty, default=None, metavar="URL",
                   help="also measure this storage (e.g. your PostgreSQL server)")  # fmt: skip
    p.add_argument("--json", type=checks.output_file, default=None, metavar="OUT",
                   help="also write the measurements and the plan as JSON")  # fmt: skip
    p.set_defaults(handler=_run)


def _run(args: argparse.Namespace) -> int:
    from perfopt.advise.plan import advise, format_advice, parse_budget
    from perfopt.optimize.api import write_json
    from perfopt.optimize.user_objective import UserTask

    task = UserTask(args.objective, args.objective_setup, (args.direction,))
    advice = advise(task, parse_budget(args.budget), storage=args.storage)
    print(format_advice(advice))
    if args.json is not None:
        write_json(args.json, advice.to_dict())
    return 0
