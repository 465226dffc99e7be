"""`perfopt backtest`: run the RSI sleeve backtest and print stages and metrics."""

from __future__ import annotations

import argparse
from pathlib import Path

from perfopt.cli import checks
from perfopt.defaults import DATA_SOURCES
from perfopt.units import fmt_duration, fmt_number, fmt_pct, is_missing


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the `backtest` command."""
    parser = subparsers.add_parser(
        "backtest",
        help="run the RSI sleeve backtest on a data folder (the seed: 500 stocks x 3 years)",
        description=(
            "Backtest the RSI sleeve strategy (docs/workloads.md) on a data folder and print "
            "a stage breakdown (load, signals, simulate, metrics, total; the numba engine "
            "computes the signals inside simulate, in one fused kernel) and the metrics. "
            "The reference engine with --access naive --source sqlite is the legacy baseline."
        ),
    )
    parser.add_argument("--data", required=True, help="data folder (from `perfopt data generate`)")
    parser.add_argument(
        "--source",
        choices=DATA_SOURCES,
        default="hdf5",
        help="store to read (default %(default)s)",
    )
    parser.add_argument(
        "--access",
        choices=("bulk", "naive"),
        default="bulk",
        help="bulk: one read; naive: one query per ticker per date (default %(default)s)",
    )
    parser.add_argument(
        "--engine",
        choices=("reference", "numba"),
        default="numba",
        help="plain-Python loops or the fused numba kernel (default %(default)s)",
    )
    parser.add_argument(
        "--workers",
        type=checks.positive_int,
        default=1,
        help="processes to shard tickers across (default %(default)s)",
    )
    parser.add_argument(
        "--start-method", default="spawn", help="spawn, fork or forkserver (default %(default)s)"
    )
    parser.add_argument(
        "--rsi-period", type=checks.int_at_least(2), default=14, help="Wilder RSI period (default %(default)s)"
    )
    parser.add_argument(
        "--oversold", type=checks.float_in(0.0, 100.0), default=30.0, help="buy below this RSI (default %(default)s)"
    )
    parser.add_argument(
        "--overbought", type=checks.float_in(0.0, 100.0), default=70.0, help="sell above this RSI (default %(default)s)"
    )
    parser.add_argument(
        "--fee", type=checks.float_in(0.0, 1.0, high_open=True), default=0.001, help="fee per side as a fraction (default %(default)s)"
    )
    parser.add_argument(
        "--capital", type=checks.positive_float, default=1_000_000.0, help="initial capital (default %(default)s)"
    )
    parser.add_argument("--tickers", help="comma-separated subset of tickers (default: all)")
    parser.add_argument(
        "--json", type=checks.output_file, help="write metrics, timings, equity and trades as JSON"
    )
    parser.add_argument("--equity-csv", type=checks.output_file, help="write date,equity")
    parser.add_argument("--trades-csv", type=checks.output_file, help="write the trade list")
    parser.set_defaults(handler=_run)


def _run(args: argparse.Namespace) -> int:
    from perfopt.backtest import BacktestConfig, run_backtest

    tickers = None
    if args.tickers is not None:
        tickers = tuple(t.strip() for t in args.tickers.split(",") if t.strip())
    config = BacktestConfig(
        data_dir=Path(args.data),
        source=args.source,
        access=args.access,
        engine=args.engine,
        workers=args.workers,
        start_method=args.start_method,
        rsi_period=args.rsi_period,
        oversold=args.oversold,
        overbought=args.overbought,
        fee=args.fee,
        capital=args.capital,
        tickers=tickers,
    )
    result = run_backtest(config)
    print(format_result(result))
    written = []
    if args.json:
        result.write_json(args.json)
        written.append(str(args.json))
    if args.equity_csv:
        result.equity_frame().to_csv(args.equity_csv, index=False)
        written.append(str(args.equity_csv))
    if args.trades_csv:
        result.trades_frame().to_csv(args.trades_csv, index=False)
        written.append(str(args.trades_csv))
    if written:
        print("wrote " + ", ".join(written))
    return 0


def format_result(result) -> str:
    """Return the stage breakdown and metrics as aligned text."""
    info = result.info
    lines = [
        f"backtest: {len(result.tickers)} tickers x {len(result.dates)} dates, engine {info['engine']}, "
        f"{info['source']}/{info['access']}, {info['workers']} worker(s)"
        + (f" ({info['start_method']})" if info.get("start_method") else ""),
        "stages:",
    ]
    main_stages = ("load", "signals", "simulate", "metrics", "total")
    for name in main_stages:
        if name not in result.stages:  # numba: signals are timed inside simulate
            lines.append(f"  {name:<10} {'-':>10}  (inside simulate: one fused kernel)")
            continue
        lines.append(f"  {name:<10} {fmt_duration(result.stages[name]):>10}")
    extra = [name for name in result.stages if name not in main_stages]
    if extra:
        lines.append(
            "  sharding (in total): " + ", ".join(f"{n} {fmt_duration(result.stages[n])}" for n in extra)
        )
    lines.append(
        f"  {'compile':<10} {fmt_duration(info['compile_s']):>10}  (numba compile or cache load, not in total)"
    )
    note = parallel_cost_note(result)
    if note:
        lines.append(note)
    lines.append("metrics:")
    for key, value in result.metrics.items():
        shown = fmt_number(value) if isinstance(value, float) else str(value)
        if isinstance(value, float) and not is_missing(value) and abs(value) < 10000:
            shown = f"{value:.6g}"
        lines.append(f"  {key:<14} {shown}")
    return "\n".join(lines)


def parallel_cost_note(result) -> str | None:
    """Why a sharded run was slow: worker start and per-worker compile against the work.

    Returns None for one worker, or when start-up is a small part of the total.
    """
    stages = result.stages
    if "worker_start" not in stages:
        return None
    start, compile_s = stages["worker_start"], stages.get("worker_compile", 0.0)
    total = stages.get("total", 0.0)
    work = sum(stages.get(k, 0.0) for k in ("load", "signals", "simulate"))
    overhead = start + compile_s
    if total <= 0 or overhead < 0.25 * total:
        return None
    method = result.info.get("start_method") or "default"
    return (
        f"note: {fmt_pct(overhead / total)} of the {fmt_duration(total)} went to starting "
        f"{result.info.get('workers')} workers ({method}): {fmt_duration(start)} until the "
        f"slowest had started, {fmt_duration(compile_s)} of numba compile or cache load in "
        f"each, against {fmt_duration(work)} of load and kernel work in the slowest shard. "
        "A fresh spawn/forkserver worker imports numpy and numba again; sharding pays only "
        "when each shard's work is far larger than that (compare with --workers 1)."
    )
