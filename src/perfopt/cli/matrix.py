"""`perfopt matrix`, `perfopt sweep` and `perfopt report`: the harness's commands."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from perfopt.cli import checks

# Exit status when every cell ran but at least one failed or timed out.
CELLS_FAILED = 3
_EXIT_EPILOG = (
    "exit status: 0 every cell ok or skipped; 3 a cell failed or timed out (the results "
    "and report are still written); 2 bad input; 130 Ctrl-C, 143 SIGTERM, 129 SIGHUP "
    "(forwarded to the running cell, which gets 10 s to exit). Files go to --out (or "
    "runs/<UTC timestamp>-<name>/) and to the cell cache: $PERFOPT_CACHE_DIR, else cache/ "
    "inside --out, else runs/cache."
)


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the matrix, sweep and report subcommands."""
    m = subparsers.add_parser(
        "matrix",
        help="run a matrix of configurations and write results.jsonl and REPORT.md",
        description=(
            "Run every cell of a matrix (a shipped preset or a TOML file), each in its own "
            "child process watched by the profiling views; append one JSON line per cell "
            "to results.jsonl and finish with REPORT.md."
        ),
        epilog=_EXIT_EPILOG,
    )
    m.add_argument(
        "--preset",
        default="quick",
        metavar="quick|full|device|FILE",
        help="a shipped preset name or the path of a matrix TOML file (default: quick)",
    )
    _common(m)
    m.add_argument(
        "--dry-run",
        action="store_true",
        help="list the cells (grid, id, params, runs or why skipped) and run nothing",
    )
    m.add_argument(
        "--resume",
        action="store_true",
        help="continue an earlier run (--out DIR, or the latest runs/*-PRESET): "
        "cells already recorded are skipped",
    )
    m.add_argument(
        "--only",
        metavar="REGEX",
        help="run only cells whose 'cell_id workload grid k=v ...' matches REGEX",
    )
    m.set_defaults(handler=_matrix)

    s = subparsers.add_parser(
        "sweep",
        help="run any command over a matrix of axes: perfopt sweep --axis n=1,2 -- CMD {n}",
        description=(
            "Run a command once per combination of --axis values, replacing {name} "
            "placeholders in the command, and report like a matrix. Lines "
            "'PERFOPT_METRIC name=value' on the command's stdout become metrics."
        ),
        epilog=_EXIT_EPILOG,
    )
    s.add_argument(
        "--axis",
        action="append",
        default=[],
        metavar="NAME=V1,V2",
        help="an axis and its values (repeatable), used as {NAME} in the command",
    )
    _common(s)
    s.add_argument(
        "cmd", nargs=argparse.REMAINDER, metavar="-- CMD ...", help="the command to run, after --"
    )
    s.set_defaults(handler=_sweep)

    r = subparsers.add_parser(
        "report",
        help="render REPORT.md and plots from a results.jsonl (no rerun)",
        description="Render REPORT.md and PNG plots from a stored results.jsonl.",
    )
    r.add_argument("results", type=Path, metavar="RESULTS.jsonl", help="a results file")
    r.add_argument(
        "--out",
        type=Path,
        metavar="DIR",
        help="where to write REPORT.md and plots/ (default: the results file's folder)",
    )
    r.add_argument(
        "--benchmark-json",
        type=Path,
        action="append",
        default=[],
        metavar="FILE",
        help="a pytest-benchmark JSON file (pytest --benchmark-json) to show beside the matrix; repeatable",
    )
    r.add_argument(
        "--asv-results",
        type=Path,
        metavar="DIR",
        help="an asv results folder (e.g. .asv/results) to show perfopt's speed over commits",
    )
    r.set_defaults(handler=_report)


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--out",
        type=checks.output_dir,
        metavar="DIR",
        help="run folder (default: runs/<UTC timestamp>-<name>/; an earlier run "
        "there is never overwritten)",
    )
    p.add_argument(
        "--repeats",
        type=checks.positive_int,
        metavar="N",
        help="runs per cell, each in a fresh process, interleaved with the other cells of "
        "its grid (default: the preset's, at least 3 for a verdict)",
    )
    p.add_argument(
        "--until-ci",
        type=checks.positive_float,
        metavar="PCT",
        help="after the minimum repeats, add repeats to the cells of every judged ratio "
        "whose 95%% interval is wider than +-PCT%% of the ratio (adaptive mode)",
    )
    p.add_argument(
        "--max-repeats",
        type=checks.positive_int,
        default=10,
        metavar="N",
        help="with --until-ci: at most N runs per cell (default: 10)",
    )
    p.add_argument(
        "--budget",
        type=checks.positive_float,
        metavar="S",
        help="with --until-ci: add no repeat once the run has taken S seconds",
    )
    p.add_argument(
        "--cell-timeout",
        type=checks.positive_float,
        metavar="S",
        help="seconds a cell's measured run may take before its process group is killed",
    )
    p.add_argument(
        "--cell-start",
        choices=("fork", "exec"),
        help="how each run's process starts: 'fork' (default) from a warm interpreter per "
        "workload that imported it once (imports are never timed, so only the wait goes); "
        "'exec' a new interpreter per run, for a workload whose cold start matters",
    )
    p.add_argument(
        "--pyspy",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="record py-spy samples of each cell (default: on when py-spy works)",
    )


def _finish(run) -> int:  # noqa: ANN001 - MatrixRun, imported lazily
    counts = ", ".join(f"{n} {s}" for s, n in sorted(run.counts.items())) or "nothing new"
    if run.resumed:
        counts += f"; {run.resumed} already done"
    print(f"{run.results_path}: {counts}")
    if run.report_path:
        print(f"report written to {run.report_path}")
    bad = sum(run.counts.get(s, 0) for s in ("failed", "timeout"))
    if bad:
        print(f"{bad} cell(s) failed or timed out: exit status {CELLS_FAILED}", file=sys.stderr)
        return CELLS_FAILED
    return 0


def _options(args: argparse.Namespace):  # noqa: ANN202 - ScheduleOptions, imported lazily
    from perfopt.errors import UserError
    from perfopt.harness.schedule import ScheduleOptions

    if args.until_ci is None and args.budget is not None:
        raise UserError("--budget applies to --until-ci runs; add --until-ci PCT")
    return ScheduleOptions(args.until_ci, args.max_repeats, args.budget)


def _run(spec, args: argparse.Namespace, **kwargs) -> int:  # noqa: ANN001
    from perfopt.harness.matrix import run_matrix
    from perfopt.harness.processes import forward_signals
    from perfopt.harness.progress import ConsoleProgress

    spec = spec.with_overrides(args.repeats, args.cell_timeout, args.pyspy, args.cell_start)
    options = _options(args)
    try:
        with forward_signals():  # SIGTERM/SIGHUP reach the running cell, then we stop
            run = run_matrix(
                spec, args.out, progress=ConsoleProgress(sys.stderr), options=options, **kwargs
            )
    except KeyboardInterrupt as exc:
        print(
            f"perfopt: {exc or 'interrupted'}; the running cell was stopped and not recorded. "
            "Continue with --resume (and the same --out).",
            file=sys.stderr,
        )
        return getattr(exc, "exit_code", 130)
    return _finish(run)


def _matrix(args: argparse.Namespace) -> int:
    from perfopt.harness.spec import load_spec

    spec = load_spec(args.preset)
    if args.dry_run:
        from perfopt.harness.matrix import describe_cells

        spec = spec.with_overrides(args.repeats, args.cell_timeout, args.pyspy, args.cell_start)
        print("\n".join(describe_cells(spec, args.only)))
        return 0
    return _run(spec, args, resume=args.resume, only=args.only)


def _sweep(args: argparse.Namespace) -> int:
    from perfopt.harness.sweep import sweep_spec

    cmd = args.cmd[1:] if args.cmd[:1] == ["--"] else args.cmd
    return _run(sweep_spec(cmd, args.axis), args)


def _report(args: argparse.Namespace) -> int:
    from perfopt.harness.report import write_report

    path = write_report(args.results, args.out, args.benchmark_json, args.asv_results)
    print(f"report written to {path}")
    return 0
