"""The flags of `perfopt optimize`, grouped by the mode they belong to.

`add_flags` adds them to the subcommand's parser and returns the daily, grid and
user-objective groups: perfopt.cli.optimize refuses a group's flags in the other modes.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from perfopt.cli import checks, config_file, user_objective
from perfopt.heap import HEAP_MODES
from perfopt.machine import START_METHODS


def add_flags(
    p: argparse.ArgumentParser,
) -> tuple[argparse._ArgumentGroup, argparse._ArgumentGroup, argparse._ArgumentGroup]:
    """Add every flag of `perfopt optimize` to p; return its (daily, grid, user) groups."""
    common = p.add_argument_group("every mode")
    daily = p.add_argument_group("daily mode only")
    grid = p.add_argument_group("timeframe-grid mode only (--symbol and --timeframe-grid)")
    user = p.add_argument_group("your own objective (--objective SPEC)")
    dask = p.add_argument_group("executor")
    common.add_argument(
        "--data",
        type=Path,
        default=None,
        metavar="DIR",
        help="data folder (from `perfopt data generate`): prices.sqlite for daily runs, "
        "intraday/<symbol>_1min.parquet for grid runs (required, here or in --config; not "
        "used with --objective SPEC)",
    )
    daily.add_argument(
        "--start", default="2021-01-01", help="first day evaluated (default 2021-01-01)"
    )
    daily.add_argument(
        "--end", default="2024-12-31", help="last day evaluated (default 2024-12-31)"
    )
    common.add_argument(
        "--n-trials",
        type=checks.positive_int,
        default=20,
        help="finished trials the study should hold (across every worker and resumed "
        "runs; default 20)",
    )
    common.add_argument(
        "--timeout",
        type=checks.positive_float,
        default=None,
        metavar="S",
        help="start no new trial after S seconds",
    )
    daily.add_argument(
        "--study-name",
        type=checks.non_empty,
        default=None,
        help="study name (default perfopt); grid mode names studies with --study-template",
    )
    storage = common.add_mutually_exclusive_group()
    storage.add_argument(
        "--storage",
        "--storage-url",
        dest="storage",
        type=checks.non_empty,
        default=None,
        metavar="URL",
        help="memory, sqlite:///file.db, journal:///file.log or "
        "postgresql+psycopg://user:pass@host:port/db (--storage-url is the same option)",
    )
    storage.add_argument(
        "--storage-url-env",
        type=checks.non_empty,
        default="OPTUNA_STORAGE_URL",
        metavar="NAME",
        help="environment variable holding the storage URL when --storage is "
        "absent (default OPTUNA_STORAGE_URL; empty: studies/<study-name>.db, or "
        "studies/<symbol>_<ltf>_<htf>.db per grid pair)",
    )
    common.add_argument(
        "--parallel-mode",
        choices=["trial", "backtest", "hybrid", "thread"],
        default="trial",
        help="trial: n-jobs worker processes share one study (recommended); backtest: "
        "trials in sequence, windows on bt-workers processes; hybrid: both; thread: "
        "Optuna's n_jobs threads (for comparison only)",
    )
    common.add_argument(
        "--n-jobs",
        type=checks.int_at_least(-1),
        default=1,
        help="trial workers (processes, or threads in thread mode); -1: physical cores",
    )
    daily.add_argument(
        "--bt-workers",
        type=checks.positive_int,
        default=1,
        help="processes running the windows of a trial (backtest and hybrid modes)",
    )
    daily.add_argument(
        "--bt-pool",
        choices=["process", "thread"],
        default="process",
        help="what runs a trial's windows in parallel (backtest and hybrid modes): process "
        "(default; true parallelism, each pays its start-up) or thread (starts in "
        "milliseconds, shares memory; gains only where numpy releases the GIL)",
    )
    common.add_argument(
        "--heap",
        choices=HEAP_MODES,
        default="keep",
        help="keep (default): glibc keeps freed memory for reuse in the processes that run "
        "trials (mmap threshold 32 MiB, trim threshold 256 MiB), so numpy temporaries "
        "do not fault in fresh zeroed pages every trial; system: the C library's defaults. "
        "MALLOC_*_ variables set in the environment win over keep",
    )
    common.add_argument(
        "--start-method",
        choices=START_METHODS,
        default="fork",
        help="how worker processes start (default fork)",
    )
    common.add_argument(
        "--blas-threads",
        type=checks.positive_int,
        default=None,
        metavar="N",
        help="OMP/MKL/OPENBLAS/NUMEXPR/NUMBA threads per worker process "
        "(default 1 in process modes, untouched in thread mode)",
    )
    daily.add_argument(
        "--access",
        choices=["naive", "bulk"],
        default="bulk",
        help="naive: per-ticker per-date SQLite queries in every trial (the slow "
        "source pattern); bulk: load the panel once per worker (default)",
    )
    daily.add_argument(
        "--source",
        choices=["sqlite", "hdf5"],
        default="sqlite",
        help="file read by the workers (naive access needs sqlite; default sqlite)",
    )
    daily.add_argument(
        "--tickers",
        type=checks.int_at_least(2),
        default=None,
        metavar="N",
        help="universe: the first N tickers of the data (default all)",
    )
    common.add_argument(
        "--sampler",
        choices=["tpe", "tpe-multivariate", "random", "cmaes", "nsga2"],
        default=None,
        help="Optuna sampler (default tpe; tpe-multivariate is TPE with multivariate=True, "
        "group=True; nsga2, the default with --multi-objective, needs --multi-objective). "
        "Cost per trial as the study grows: docs/parallel.md",
    )
    common.add_argument(
        "--pruner",
        choices=["none", "median", "hyperband", "asha"],
        default="none",
        help="pruner over per-window intermediate values (default none)",
    )
    common.add_argument(
        "--seed",
        type=checks.seed,
        default=None,
        help="sampler seed (default: a fresh seed per run, so concurrent runs never draw "
        "the same parameters); with --seed S the run's seed comes from S and --run-id, "
        "so give each concurrent run its own --run-id (docs/many-runs.md)",
    )
    common.add_argument(
        "--run-id",
        type=checks.non_empty,
        default=None,
        metavar="ID",
        help="name of this run, stored on each of its trials (default: host-pid-random); "
        "the summary counts this run's trials by it beside the study's total",
    )
    daily.add_argument(
        "--cv",
        choices=["walk-forward", "purged-kfold"],
        default="walk-forward",
        help="windows: one per calendar year, or k folds of months with an embargo",
    )
    daily.add_argument("--cv-folds", type=checks.int_at_least(2), default=4, help="folds for purged-kfold (default 4)")
    daily.add_argument(
        "--embargo-months",
        type=checks.non_negative_int,
        default=1,
        help="months dropped at the start of each purged-kfold fold (default 1)",
    )
    common.add_argument(
        "--fee",
        type=checks.float_in(0.0, 1.0, high_open=True),
        default=None,
        help="fee per unit of turnover (daily, default 0.001) or per side of a trade "
        "(grid, default 0.0004)",
    )
    common.add_argument(
        "--nan-policy",
        choices=["fail", "penalty"],
        default="fail",
        help="a NaN/inf window value fails the trial with a recorded reason, or takes "
        "--nan-penalty (default fail)",
    )
    common.add_argument(
        "--nan-penalty", type=checks.finite_float, default=-10.0, help="value under --nan-policy penalty"
    )
    daily.add_argument(
        "--allow-oversubscribe",
        action="store_true",
        help="allow hybrid plans with n-jobs x bt-workers above the physical cores",
    )
    common.add_argument(
        "--heartbeat-interval",
        type=checks.non_negative_int,
        default=2,
        metavar="S",
        help="Optuna heartbeat of running trials on RDB storages, seconds (0: off)",
    )
    common.add_argument(
        "--heartbeat-grace",
        type=checks.positive_int,
        default=6,
        metavar="S",
        help="a running trial without heartbeat for S seconds is failed and retried",
    )
    common.add_argument(
        "--summary-json",
        type=checks.output_file,
        default=None,
        metavar="OUT",
        help="also write the summary as JSON to OUT (daily mode; the grid writes a summary "
        "per pair in its reports folder)",
    )
    common.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")
    add_grid_flags(grid)
    user_objective.add_flags(user)
    dask.add_argument(
        "--executor",
        choices=["local", "dask", "ray"],
        default="local",
        help="local: trials in this host's processes (--parallel-mode, --n-jobs); dask: one "
        "task per trial on a Dask cluster sharing the storage; ray: the same on Ray "
        "(pip install 'perfopt[ray]') (default local)",
    )
    dask.add_argument(
        "--ray-address",
        default=None,
        metavar="ADDR",
        help="local:N for a Ray instance of N CPUs started for the run, auto for one started "
        "on this host with `ray start --head`, or ray://HOST:PORT (with --executor ray)",
    )
    dask.add_argument(
        "--dask-scheduler",
        default=None,
        metavar="ADDR",
        help="tcp://HOST:PORT of a running scheduler, or local:N for a local cluster of N "
        "worker processes on 127.0.0.1 (with --executor dask)",
    )
    common.add_argument(
        "--status",
        action="store_true",
        help="run nothing: print the progress of the study (--study-name) or of every study "
        "in the storage (trials per state, counted/--n-trials, best value, trials/min and "
        "time left); safe while other runs write to it",
    )
    config_file.add_config_flag(p, "optimize")
    return daily, grid, user


def add_grid_flags(grid: argparse._ArgumentGroup) -> None:
    """The timeframe-grid flags (--symbol, --timeframe-grid and what shapes a grid run)."""
    grid.add_argument("--symbol", default=None, help="symbol whose intraday bars to use")
    grid.add_argument(
        "--timeframe-grid",
        default=None,
        metavar="PAIRS",
        help='LTF@HTF pairs separated by "," or ";" (e.g. "1m@15m,1m@1h,5m@1h"); '
        "timeframes 1m 3m 5m 15m 30m 1h 4h 1d, HTF longer than LTF",
    )
    grid.add_argument(
        "--study-template",
        default=None,
        metavar="T",
        help="study name per pair (default {symbol}_{ltf_slug}_{htf_slug}{suffix}); "
        "placeholders {symbol} {symbol_slug} {ltf} {ltf_slug} {htf} {htf_slug} {index} "
        "{total} {suffix} {hash} (8 hex digits of the search settings)",
    )
    grid.add_argument(
        "--run-tag-template",
        default=None,
        metavar="T",
        help="report folder name after the timestamp (default {symbol}_{ltf_slug}_{htf_slug})",
    )
    grid.add_argument("--suffix", default="", help="value of the {suffix} placeholder")
    grid.add_argument(
        "--top-k", type=checks.positive_int, default=10, help="trials in each pair's top_trials.csv (default 10)"
    )
    grid.add_argument(
        "--resume-from",
        type=Path,
        default=None,
        metavar="FILE",
        help="best_params.json of an earlier run: its parameters run first in every study",
    )
    grid.add_argument(
        "--enable",
        action="append",
        default=None,
        metavar="FEATURE",
        help="switch a strategy feature on (useHTF, useStop, useTakeProfit; repeat or "
        "comma-separate)",
    )
    grid.add_argument(
        "--disable", action="append", default=None, metavar="FEATURE", help="switch one off"
    )
    grid.add_argument(
        "--signal", choices=["rsi", "ma_cross"], default="rsi", help="LTF signal (default rsi)"
    )
    grid.add_argument(
        "--metric",
        choices=["sharpe", "total_return"],
        default="sharpe",
        help="single-objective value (default sharpe; formerly --objective, whose "
        "sharpe/total_return still work with a deprecation note)",
    )
    grid.add_argument(
        "--multi-objective",
        action="store_true",
        help="optimize (total return: maximize, |max drawdown|: minimize); NSGA-II by default; "
        "the outputs hold the Pareto front",
    )
    grid.add_argument(
        "--population-size", type=checks.int_at_least(2), default=50, help="NSGA-II population (default 50)"
    )
    grid.add_argument(
        "--crossover-prob", type=checks.float_in(0.0, 1.0), default=0.9, help="NSGA-II crossover probability (0.9)"
    )
    grid.add_argument(
        "--slippage-bps",
        type=checks.non_negative_float,
        default=None,
        help="slippage per fill in basis points (default 1.0)",
    )
    grid.add_argument(
        "--reports-dir",
        type=checks.output_dir,
        default=Path("reports"),
        metavar="DIR",
        help="where pair folders and grid_summary.json/.md go (default reports)",
    )
    grid.add_argument(
        "--studies-dir",
        type=checks.output_dir,
        default=Path("studies"),
        metavar="DIR",
        help="folder of the SQLite fallback storages <symbol>_<ltf>_<htf>.db (default studies)",
    )
