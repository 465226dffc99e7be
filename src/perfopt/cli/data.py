"""`perfopt data`: generate, import and inspect market-data folders."""

from __future__ import annotations

import argparse
import json

from perfopt.cli import checks
from perfopt.defaults import DATA_SOURCES


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the `data` command and its subcommands."""
    from perfopt.defaults import (
        DEFAULT_END,
        DEFAULT_INTRADAY_DAYS,
        DEFAULT_INTRADAY_START,
        DEFAULT_SEED,
        DEFAULT_START,
        DEFAULT_TICKERS,
    )

    parser = subparsers.add_parser(
        "data",
        help="generate, import and inspect market-data folders",
        description="Create and inspect data folders holding prices.sqlite, prices.parquet and prices.h5.",
    )
    sub = parser.add_subparsers(title="data commands", dest="data_command", metavar="SUBCOMMAND")
    parser.set_defaults(handler=lambda args: parser.print_help() or 2)

    gen = sub.add_parser(
        "generate",
        help="write a deterministic synthetic daily panel, or intraday bars with --freq",
        description=(
            "Write a deterministic synthetic daily panel (weekday calendar, per-ticker drift "
            "and volatility regimes) as prices.sqlite, prices.parquet and prices.h5. The "
            "defaults are the seed's workload: 500 stocks over three years. With --freq "
            "other than 1d (e.g. --freq 1min --symbols BTCUSDT,ETHUSDT --days 60), write "
            "24/7 crypto-style intraday OHLCV bars instead (seasonal intraday volatility, "
            "GARCH clustering, jumps), one Parquet file per symbol: "
            "DIR/intraday/<SYMBOL>_<freq>.parquet."
        ),
    )
    gen.add_argument(
        "--freq",
        default="1d",
        help="bar length: 1d (default) writes the daily panel; 1min, 5min, 1h ... write intraday bars",
    )
    gen.add_argument(
        "--symbols",
        default=None,
        help="intraday only: comma-separated symbols, e.g. BTCUSDT,ETHUSDT",
    )
    gen.add_argument(
        "--tickers",
        type=checks.positive_int,
        default=None,
        help=f"daily only: number of tickers (default {DEFAULT_TICKERS})",
    )
    gen.add_argument(
        "--start",
        default=None,
        help=f"first date, YYYY-MM-DD (default {DEFAULT_START}; intraday {DEFAULT_INTRADAY_START})",
    )
    gen.add_argument(
        "--end", default=None, help=f"daily only: last date, YYYY-MM-DD (default {DEFAULT_END})"
    )
    gen.add_argument(
        "--days",
        type=checks.positive_int,
        default=None,
        help=(
            "daily: keep only the first N weekdays from --start (overrides --end); "
            f"intraday: number of 24h days (default {DEFAULT_INTRADAY_DAYS})"
        ),
    )
    gen.add_argument("--seed", type=checks.seed, default=None, help=f"random seed (default {DEFAULT_SEED})")
    gen.add_argument(
        "--gaps",
        action="store_true",
        help="daily only: add late listings, delistings and suspended days",
    )
    gen.add_argument(
        "--out", type=checks.output_dir, required=True, help="data folder to write (created if missing)"
    )
    gen.set_defaults(handler=_generate)

    imp = sub.add_parser(
        "import-csv",
        help="turn a long CSV of real bars into a data folder",
        description="Read FILE (header date,ticker,open,high,low,close,volume in any order) and write the three stores.",
    )
    imp.add_argument("file", help="long CSV file")
    imp.add_argument(
        "--out", type=checks.output_dir, required=True, help="data folder to write (created if missing)"
    )
    imp.set_defaults(handler=_import_csv)

    info = sub.add_parser("info", help="print tickers, dates and missing bars of a data folder")
    info.add_argument("data_dir", metavar="DIR", help="data folder")
    info.add_argument("--source", choices=DATA_SOURCES, help="store to read (default: hdf5 if present)")
    info.add_argument("--json", action="store_true", help="print JSON instead of text")
    info.set_defaults(handler=_info)

    seq = sub.add_parser(
        "sequences",
        help="write a synthetic HDF5 sequence dataset for `perfopt train`",
        description=(
            "Write features [N, seq_len, n_features] and targets [N, horizon] as float32. "
            "The source's full multi-timeframe layout is --seq-len 1104 (M1 480 + M5 288 + "
            "M15 192 + H1 96 + H4 48); the small defaults keep tests fast."
        ),
    )
    seq.add_argument("--samples", type=checks.positive_int, default=2048, help="number of samples (default %(default)s)")
    seq.add_argument("--seq-len", type=checks.positive_int, default=64, help="bars per sample (default %(default)s)")
    seq.add_argument("--features", type=checks.positive_int, default=16, help="features per bar (default %(default)s)")
    seq.add_argument("--horizon", type=checks.positive_int, default=1, help="targets per sample (default %(default)s)")
    seq.add_argument("--seed", type=checks.seed, default=0, help="random seed (default %(default)s)")
    seq.add_argument("--chunked", action="store_true", help="store with one-sample HDF5 chunks instead of contiguous")
    seq.add_argument(
        "--max-size-gb",
        type=checks.positive_float,
        default=2.0,
        help="refuse to write a file larger than this (default %(default)s GB); the free "
        "disk space is checked too",
    )
    seq.add_argument("--out", type=checks.output_file, required=True, help="HDF5 file to write")
    seq.set_defaults(handler=_sequences)


def _generate(args: argparse.Namespace) -> int:
    from perfopt.data.synthetic import DEFAULT_END, DEFAULT_SEED, DEFAULT_START, DEFAULT_TICKERS
    from perfopt.errors import UserError

    if args.freq.strip().lower() not in ("1d", "d", "1day"):
        return _generate_intraday(args)
    if args.symbols is not None:
        raise UserError(
            "--symbols is for intraday bars: add --freq 1min (or use --tickers for the daily panel)"
        )
    from perfopt.cli.progress import Steps
    from perfopt.data import generate_panel, write_panel

    steps = Steps()
    panel = generate_panel(
        DEFAULT_TICKERS if args.tickers is None else args.tickers,
        args.start or DEFAULT_START,
        args.end or DEFAULT_END,
        DEFAULT_SEED if args.seed is None else args.seed,
        args.gaps,
        n_days=args.days,
    )
    steps(f"generated {panel.n_tickers} tickers x {panel.n_dates} days; writing the three stores")
    paths = write_panel(panel, args.out, progress=steps)
    print(
        f"wrote {panel.n_tickers} tickers x {panel.n_dates} dates "
        f"({panel.missing_bars()} missing bars) to {paths['sqlite'].parent}: "
        + ", ".join(p.name for p in paths.values())
    )
    return 0


def _generate_intraday(args: argparse.Namespace) -> int:
    from perfopt.errors import UserError
    from perfopt.intraday.bars import (
        DEFAULT_INTRADAY_DAYS,
        DEFAULT_INTRADAY_SEED,
        DEFAULT_INTRADAY_START,
        intraday_dir,
        write_intraday,
    )

    refused = [
        flag
        for flag, value in (("--tickers", args.tickers), ("--end", args.end), ("--gaps", args.gaps))
        if value is not None and value is not False
    ]
    if refused:
        raise UserError(
            f"{refused[0]} applies to the daily panel only; with --freq {args.freq} use --symbols and --days"
        )
    if not args.symbols:
        raise UserError(f"--freq {args.freq} needs --symbols, e.g. --symbols BTCUSDT,ETHUSDT")
    symbols = args.symbols.split(",")
    days = DEFAULT_INTRADAY_DAYS if args.days is None else args.days
    paths = write_intraday(
        args.out,
        symbols,
        days,
        args.freq,
        args.start or DEFAULT_INTRADAY_START,
        DEFAULT_INTRADAY_SEED if args.seed is None else args.seed,
    )
    print(
        f"wrote {len(paths)} symbols x {days} days of {args.freq} bars to {intraday_dir(args.out)}: "
        + ", ".join(p.name for p in paths.values())
    )
    return 0


def _import_csv(args: argparse.Namespace) -> int:
    from perfopt.data import write_panel
    from perfopt.data.csv_import import read_long_csv

    panel = read_long_csv(args.file)
    paths = write_panel(panel, args.out, what="import-csv")
    print(
        f"imported {panel.n_tickers} tickers x {panel.n_dates} dates from {args.file} "
        f"into {paths['sqlite'].parent}"
    )
    return 0


def _info(args: argparse.Namespace) -> int:
    from perfopt.data import describe

    summary = describe(args.data_dir, args.source)
    if args.json:
        print(json.dumps(summary, indent=1))
        return 0
    files = ", ".join(f"{name} ({size / 1e6:.1f} MB)" for name, size in summary["files"].items())
    print(f"folder:   {summary['folder']}")
    print(f"files:    {files}")
    print(f"tickers:  {summary['n_tickers']} ({', '.join(summary['tickers_head'])} ...)")
    print(f"dates:    {summary['n_dates']} from {summary['first_date']} to {summary['last_date']}")
    print(
        f"missing:  {summary['missing_bars']} bars in {summary['tickers_with_gaps']} tickers "
        f"(read from {summary['read_from']})"
    )
    state = summary["manifest"]
    print(
        "manifest: "
        + (
            "complete; every store matches its SHA-256"
            if state == "complete"
            else "none (written before manifests, or by hand): stores not verified"
        )
    )
    return 0


def _sequences(args: argparse.Namespace) -> int:
    from pathlib import Path

    from perfopt.train.sequences import write_sequences

    path = write_sequences(
        Path(args.out), args.samples, args.seq_len, args.features, args.horizon, args.seed,
        args.chunked, max_bytes=int(args.max_size_gb * 1e9),
    )  # fmt: skip
    print(f"wrote {args.samples} sequences of {args.seq_len} x {args.features} to {path}")
    return 0
