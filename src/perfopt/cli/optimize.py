"""`perfopt optimize`: an Optuna search over the monthly selection strategy, parallel plans."""

from __future__ import annotations

import argparse
from pathlib import Path


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the `optimize` subcommand (optuna and numpy are imported only when it runs)."""
    p = subparsers.add_parser(
        "optimize",
        help="Optuna search over the monthly cross-sectional strategy (trial/backtest/hybrid plans)",
        description=(
            "Search momentum/volatility/RSI weights, lookbacks and top K of a monthly "
            "cross-sectional strategy with Optuna. Each trial backtests every window "
            "(walk-forward years or purged k-fold) and records stage timers; the run ends "
            "with a summary of trials/s, trial-time percentiles, IO ratio and thread pools. "
            "An existing study with the same name resumes until it holds --n-trials."
        ),
    )
    p.add_argument(
        "--data",
        type=Path,
        required=True,
        metavar="DIR",
        help="data folder with prices.sqlite (from `perfopt data generate`)",
    )
    p.add_argument("--start", default="2021-01-01", help="first day evaluated (default 2021-01-01)")
    p.add_argument("--end", default="2024-12-31", help="last day evaluated (default 2024-12-31)")
    p.add_argument(
        "--n-trials",
        type=int,
        default=20,
        help="finished trials the study should hold (across every worker and resumed "
        "runs; default 20)",
    )
    p.add_argument(
        "--timeout",
        type=float,
        default=None,
        metavar="S",
        help="start no new trial after S seconds",
    )
    p.add_argument("--study-name", default="perfopt", help="study name (default perfopt)")
    storage = p.add_mutually_exclusive_group()
    storage.add_argument(
        "--storage",
        default=None,
        metavar="URL",
        help="memory, sqlite:///file.db, journal:///file.log or "
        "postgresql+psycopg://user:pass@host:port/db",
    )
    storage.add_argument(
        "--storage-url-env",
        default="OPTUNA_STORAGE_URL",
        metavar="NAME",
        help="environment variable holding the storage URL when --storage is "
        "absent (default OPTUNA_STORAGE_URL; empty: studies/<study-name>.db)",
    )
    p.add_argument(
        "--parallel-mode",
        choices=["trial", "backtest", "hybrid", "thread"],
        default="trial",
        help="trial: n-jobs worker processes share one study (recommended); backtest: "
        "trials in sequence, windows on bt-workers processes; hybrid: both; thread: "
        "Optuna's n_jobs threads (for comparison only)",
    )
    p.add_argument(
        "--n-jobs",
        type=int,
        default=1,
        help="trial workers (processes, or threads in thread mode); -1: physical cores",
    )
    p.add_argument(
        "--bt-workers",
        type=int,
        default=1,
        help="processes running the windows of a trial (backtest and hybrid modes)",
    )
    p.add_argument(
        "--start-method",
        choices=["spawn", "fork", "forkserver"],
        default="fork",
        help="how worker processes start (default fork)",
    )
    p.add_argument(
        "--blas-threads",
        type=int,
        default=None,
        metavar="N",
        help="OMP/MKL/OPENBLAS/NUMEXPR/NUMBA threads per worker process "
        "(default 1 in process modes, untouched in thread mode)",
    )
    p.add_argument(
        "--access",
        choices=["naive", "bulk"],
        default="bulk",
        help="naive: per-ticker per-date SQLite queries in every trial (the slow "
        "source pattern); bulk: load the panel once per worker (default)",
    )
    p.add_argument(
        "--source",
        choices=["sqlite", "hdf5"],
        default="sqlite",
        help="file read by the workers (naive access needs sqlite; default sqlite)",
    )
    p.add_argument(
        "--tickers",
        type=int,
        default=None,
        metavar="N",
        help="universe: the first N tickers of the data (default all)",
    )
    p.add_argument(
        "--sampler",
        choices=["tpe", "random", "cmaes", "nsga2"],
        default="tpe",
        help="Optuna sampler (default tpe; nsga2 needs a second objective)",
    )
    p.add_argument(
        "--pruner",
        choices=["none", "median", "hyperband", "asha"],
        default="none",
        help="pruner over per-window intermediate values (default none)",
    )
    p.add_argument(
        "--seed",
        type=int,
        default=0,
        help="seed; each worker's sampler is seeded from it and the worker index",
    )
    p.add_argument(
        "--cv",
        choices=["walk-forward", "purged-kfold"],
        default="walk-forward",
        help="windows: one per calendar year, or k folds of months with an embargo",
    )
    p.add_argument("--cv-folds", type=int, default=4, help="folds for purged-kfold (default 4)")
    p.add_argument(
        "--embargo-months",
        type=int,
        default=1,
        help="months dropped at the start of each purged-kfold fold (default 1)",
    )
    p.add_argument(
        "--fee", type=float, default=0.001, help="fee per unit of turnover (default 0.001)"
    )
    p.add_argument(
        "--nan-policy",
        choices=["fail", "penalty"],
        default="fail",
        help="a NaN/inf window value fails the trial with a recorded reason, or takes "
        "--nan-penalty (default fail)",
    )
    p.add_argument(
        "--nan-penalty", type=float, default=-10.0, help="value under --nan-policy penalty"
    )
    p.add_argument(
        "--allow-oversubscribe",
        action="store_true",
        help="allow hybrid plans with n-jobs x bt-workers above the physical cores",
    )
    p.add_argument(
        "--heartbeat-interval",
        type=int,
        default=2,
        metavar="S",
        help="Optuna heartbeat of running trials on RDB storages, seconds (0: off)",
    )
    p.add_argument(
        "--heartbeat-grace",
        type=int,
        default=6,
        metavar="S",
        help="a running trial without heartbeat for S seconds is failed and retried",
    )
    p.add_argument(
        "--summary-json",
        type=Path,
        default=None,
        metavar="OUT",
        help="also write the summary as JSON to OUT",
    )
    p.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")
    p.set_defaults(handler=_run)


def _run(args: argparse.Namespace) -> int:
    from perfopt.optimize import OptimizeConfig, format_summary, run_optimize

    cfg = OptimizeConfig(
        data_dir=args.data,
        start=args.start,
        end=args.end,
        n_trials=args.n_trials,
        study_name=args.study_name,
        timeout=args.timeout,
        storage=args.storage,
        storage_url_env=args.storage_url_env,
        mode=args.parallel_mode,
        n_jobs=args.n_jobs,
        bt_workers=args.bt_workers,
        start_method=args.start_method,
        blas_threads=args.blas_threads,
        access=args.access,
        source=args.source,
        n_tickers=args.tickers,
        sampler=args.sampler,
        pruner=args.pruner,
        seed=args.seed,
        cv=args.cv,
        cv_folds=args.cv_folds,
        embargo_months=args.embargo_months,
        fee=args.fee,
        nan_policy=args.nan_policy,
        nan_penalty=args.nan_penalty,
        allow_oversubscribe=args.allow_oversubscribe,
        heartbeat_interval=args.heartbeat_interval,
        heartbeat_grace=args.heartbeat_grace,
        progress=not args.no_progress,
    )
    summary = run_optimize(cfg, summary_json=args.summary_json)
    print(format_summary(summary))
    where = f"; summary written to {args.summary_json}" if args.summary_json else ""
    print(f"study {summary['study']} saved in {summary['storage']['url']}{where}")
    return 130 if summary["interrupted"] else 0
