"""`perfopt optimize`: Optuna searches, daily cross-sectional, a timeframe grid, or yours.

Three modes, chosen by the flags: --objective SPEC runs the user's own objective
(perfopt.cli.user_objective); without it and without --symbol/--timeframe-grid the
daily cross-sectional strategy (prices.sqlite panel); with those one intraday study
per LTF@HTF pair. Flags of one mode are refused in the others, before any work starts.
"""

from __future__ import annotations

import argparse

from perfopt.cli import config_file, optimize_flags


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the `optimize` subcommand (optuna and numpy are imported only when it runs)."""
    p = subparsers.add_parser(
        "optimize",
        help="Optuna search: daily cross-sectional strategy, or one intraday study per "
        "LTF@HTF pair (--symbol --timeframe-grid)",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description=(
            "Three modes.\n\n"
            "YOUR OBJECTIVE (--objective path/to/file.py:function or package.module:function):\n"
            "a standard Optuna objective f(trial) -> float (or floats with --directions), run\n"
            "by the same plans: worker processes, exact counts, resume, Ctrl-C.\n"
            "  perfopt optimize --objective examples/sklearn_objective.py:objective \\\n"
            "      --direction maximize --n-trials 100 --n-jobs 2 --storage journal:///s.log\n\n"
            "DAILY (default): search momentum/volatility/RSI weights, lookbacks and top K of\n"
            "a monthly cross-sectional strategy over --data/prices.sqlite. Each trial\n"
            "backtests every window (walk-forward years or purged k-fold).\n"
            "  perfopt optimize --data DIR --n-trials 100 --n-jobs 2\n\n"
            "TIMEFRAME GRID (--symbol and --timeframe-grid): one study per LTF@HTF pair of\n"
            "one symbol's intraday bars (from `perfopt data generate --freq 1min`): LTF\n"
            "signals, HTF trend filter; outputs in reports/<timestamp>_<symbol>_<ltf>_<htf>/\n"
            "and a grid summary table.\n"
            "  perfopt optimize --data DIR --symbol BTCUSDT --timeframe-grid 1m@15m,5m@1h \\\n"
            "      --n-trials 1000 --n-jobs 2 [--multi-objective] [--resume-from FILE]\n\n"
            "Every mode: trials record stage timers and the run ends with trials/s, trial-time\n"
            "percentiles and IO ratio. A study is resumed until it holds --n-trials counted\n"
            "trials, counted in the storage: independent runs (other shells, hosts, a job\n"
            "array) with the same study name and storage together finish exactly --n-trials.\n"
            "--executor dask runs the trials on a Dask cluster instead of local processes."
        ),
    )
    daily, grid, user = optimize_flags.add_flags(p)
    p.set_defaults(
        handler=_run,
        _only_daily={a.dest: a.default for a in daily._group_actions},
        _only_grid={a.dest: a.default for a in grid._group_actions},
        _only_user={a.dest: a.default for a in user._group_actions},
    )


def _refuse_other_mode(args: argparse.Namespace, grid_mode: bool) -> None:
    """Flags of the other mode that differ from their defaults are a UserError."""
    from perfopt.errors import UserError

    other = dict(args._only_daily if grid_mode else args._only_grid)
    other.update({k: v for k, v in args._only_user.items() if k != "objective"})
    given = [d for d, default in other.items() if getattr(args, d) != default]
    user_flags = [d for d in given if d in args._only_user]
    if user_flags:
        flags = ", ".join("--" + d.replace("_", "-") for d in user_flags)
        raise UserError(f"{flags}: for your own objective; add --objective path/file.py:function")
    if given:
        flags = ", ".join("--" + d.replace("_", "-") for d in given)
        if grid_mode:
            raise UserError(
                f"{flags}: daily-mode flag(s), not for a timeframe-grid run "
                "(--symbol/--timeframe-grid); drop them"
            )
        raise UserError(
            f"{flags}: timeframe-grid flag(s); a grid run needs --symbol and --timeframe-grid"
        )


def _config(args: argparse.Namespace, grid_mode: bool) -> object:
    from perfopt.optimize import OptimizeConfig

    multi = bool(getattr(args, "multi_objective", False))
    sampler = args.sampler or ("nsga2" if multi else "tpe")
    extra = {} if grid_mode else {"fee": 0.001 if args.fee is None else args.fee}
    return OptimizeConfig(
        data_dir=args.data,
        start=args.start,
        end=args.end,
        n_trials=args.n_trials,
        study_name=args.study_name or "perfopt",
        timeout=args.timeout,
        storage=args.storage,
        storage_url_env=args.storage_url_env,
        mode=args.parallel_mode,
        n_jobs=args.n_jobs,
        bt_workers=args.bt_workers,
        bt_pool=args.bt_pool,
        start_method=args.start_method,
        heap=args.heap,
        blas_threads=args.blas_threads,
        access=args.access,
        source=args.source,
        n_tickers=args.tickers,
        sampler=sampler,
        pruner=args.pruner,
        seed=args.seed,
        run_id=args.run_id,
        cv=args.cv,
        cv_folds=args.cv_folds,
        embargo_months=args.embargo_months,
        nan_policy=args.nan_policy,
        nan_penalty=args.nan_penalty,
        allow_oversubscribe=args.allow_oversubscribe,
        heartbeat_interval=args.heartbeat_interval,
        heartbeat_grace=args.heartbeat_grace,
        progress=not args.no_progress,
        multi_objective=multi,
        population_size=args.population_size,
        crossover_prob=args.crossover_prob,
        executor=args.executor,
        dask_scheduler=args.dask_scheduler,
        ray_address=args.ray_address,
        **extra,
    )


def _status(args: argparse.Namespace) -> int:
    from perfopt.optimize.status import format_status, read_status
    from perfopt.optimize.storages import resolve_storage

    spec = resolve_storage(args.storage, args.storage_url_env, args.study_name or "perfopt")
    print(format_status(read_status(spec, args.study_name), args.n_trials))
    return 0


def _run(args: argparse.Namespace) -> int:
    from perfopt.cli import user_objective
    from perfopt.errors import UserError

    config_file.apply_config_file(args)
    if args.status:
        return _status(args)
    if user_objective.wants_user_objective(args):
        return user_objective.run(args)
    if args.data is None:
        raise UserError(
            "--data DIR is required for perfopt's own strategy (on the command line or as "
            "data = ... in --config; or give --objective path/file.py:function to optimize "
            "your own objective)"
        )

    grid_mode = args.symbol is not None or args.timeframe_grid is not None
    if grid_mode and (args.symbol is None or args.timeframe_grid is None):
        raise UserError(
            "a timeframe-grid run needs both --symbol and --timeframe-grid "
            '(e.g. --symbol BTCUSDT --timeframe-grid "1m@15m,5m@1h")'
        )
    _refuse_other_mode(args, grid_mode)
    if grid_mode and args.summary_json is not None:
        raise UserError(
            "--summary-json is for daily runs; a grid writes summary.json per pair and "
            "grid_summary.json in --reports-dir"
        )
    cfg = _config(args, grid_mode)
    if grid_mode:
        return _run_grid(args, cfg)
    from perfopt.optimize import format_summary, run_optimize

    summary = run_optimize(cfg, summary_json=args.summary_json)
    print(format_summary(summary))
    where = f"; summary written to {args.summary_json}" if args.summary_json else ""
    print(f"study {summary['study']} saved in {summary['storage']['url']}{where}")
    return 130 if summary["interrupted"] else 0


def _run_grid(args: argparse.Namespace, cfg: object) -> int:
    from perfopt.optimize.grid import GridConfig, format_grid_summary, run_grid

    gcfg = GridConfig(
        base=cfg,  # type: ignore[arg-type]
        symbol=args.symbol,
        timeframe_grid=args.timeframe_grid,
        study_template=args.study_template,
        run_tag_template=args.run_tag_template,
        suffix=args.suffix,
        top_k=args.top_k,
        resume_from=args.resume_from,
        enable=tuple(args.enable or ()),
        disable=tuple(args.disable or ()),
        signal=args.signal,
        objective=args.metric,
        fee=args.fee,
        slippage_bps=args.slippage_bps,
        reports_dir=args.reports_dir,
        studies_dir=args.studies_dir,
    )
    grid = run_grid(gcfg)
    print(format_grid_summary(grid))
    print(
        f"{len(grid['pairs'])} study folder(s) under {args.reports_dir}/{grid['timestamp']}_*; "
        f"grid summary written to {grid['files']['json']} and {grid['files']['markdown']}"
    )
    return 130 if grid["interrupted"] else 0
