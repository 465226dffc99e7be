"""`perfopt selfplay`: 9x9 five-in-a-row self-play with batched MCTS in a chosen parallel mode."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from perfopt.cli import checks
from perfopt.machine import START_METHODS, available_cores
from perfopt.run_folders import run_stamp
from perfopt.selfplay.modes import COMPILE_MODES


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the `selfplay` subcommand (torch is imported only when it runs)."""
    p = subparsers.add_parser(
        "selfplay",
        help="self-play 9x9 five-in-a-row with batched MCTS (serial, threads, processes, server)",
        description=(
            "Play self-play games of 9x9 five-in-a-row with a small policy/value CNN and PUCT MCTS, "
            "save the records (states, visit-count policies, outcomes) as games.npz under --out, "
            "and report games/s, positions evaluated/s, per-worker start-up, bytes moved between "
            "processes and peak memory per worker."
        ),
    )
    p.add_argument(
        "--parallel",
        choices=["serial", "process", "thread", "server"],
        default="serial",
        help="serial; process: a network per worker process; thread: threads sharing one network; "
        "server: worker processes send leaves to one model process (default serial)",
    )
    p.add_argument(
        "--workers",
        type=checks.positive_int,
        default=None,
        help="worker threads or processes (default: 1 for serial, otherwise max(2, cores // 2))",
    )
    p.add_argument(
        "--start-method",
        default="forkserver",
        metavar="{" + ",".join(START_METHODS) + "}",
        help="how worker processes start (default forkserver)",
    )
    p.add_argument("--games", type=checks.positive_int, default=8, help="games to play (default 8)")
    p.add_argument(
        "--simulations", type=checks.positive_int, default=32, help="MCTS leaf visits per move (default 32)"
    )
    p.add_argument(
        "--mcts-batch-size",
        type=checks.positive_int,
        default=8,
        help="leaves evaluated per network call; virtual loss keeps them distinct (default 8)",
    )
    p.add_argument(
        "--device",
        choices=["auto", "cpu", "cuda"],
        default="cpu",
        help="network device (default cpu)",
    )
    p.add_argument(
        "--compile",
        action=argparse.BooleanOptionalAction,
        default=False,
        help="torch.compile the network (each process compiles its own; default off)",
    )
    p.add_argument(
        "--compile-mode",
        choices=COMPILE_MODES,
        default="default",
        help="torch.compile mode with --compile: reduce-overhead adds CUDA graphs on a GPU "
        "(default: default); the compile time is reported apart from games/s",
    )
    p.add_argument(
        "--amp",
        action=argparse.BooleanOptionalAction,
        default=False,
        help="autocast the network: CUDA float16, CPU bfloat16 (default off)",
    )
    p.add_argument(
        "--torch-threads",
        type=checks.positive_int,
        default=1,
        help="torch threads per process that runs the network (default 1)",
    )
    p.add_argument(
        "--channels", type=checks.positive_int, default=32, help="convolution channels of the network (default 32)"
    )
    p.add_argument(
        "--blocks", type=checks.non_negative_int, default=2, help="convolution layers in the trunk (default 2)"
    )
    p.add_argument(
        "--seed", type=checks.seed, default=0, help="seed for the network and the games (default 0)"
    )
    p.add_argument(
        "--worker-timeout",
        type=checks.positive_float,
        default=300.0,
        help="seconds without any message from the workers before the run is stopped (default 300)",
    )
    p.add_argument(
        "--allow-oversubscription",
        action="store_true",
        help="allow workers x torch threads above the core count",
    )
    p.add_argument(
        "--out",
        type=checks.output_dir,
        default=None,
        metavar="DIR",
        help="folder for games.npz and selfplay.json (default selfplay-<UTC time>)",
    )
    p.add_argument(
        "--progress",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="a line per finished game on stderr (default on)",
    )
    p.set_defaults(handler=_run)


def default_workers(parallel: str, cores: int | None = None) -> int:
    """1 for serial; otherwise max(2, cores // 2): half the cores, at least a pair."""
    if parallel == "serial":
        return 1
    if cores is None:
        cores = available_cores()
    return max(2, cores // 2)


def _run(args: argparse.Namespace) -> int:
    from perfopt.cli.progress import Steps
    from perfopt.selfplay.runner import SelfplayConfig, WorkerError, check_config, run_selfplay
    from perfopt.urls import mask_secrets

    steps = Steps(enabled=args.progress)
    workers = args.workers if args.workers is not None else default_workers(args.parallel)

    out = args.out or Path(f"selfplay-{run_stamp()}")
    cfg = SelfplayConfig(
        games=args.games,
        simulations=args.simulations,
        mcts_batch_size=args.mcts_batch_size,
        parallel=args.parallel,
        workers=workers,
        start_method=args.start_method,
        device=args.device,
        compile=args.compile,
        compile_mode=args.compile_mode,
        amp=args.amp,
        seed=args.seed,
        channels=args.channels,
        blocks=args.blocks,
        torch_threads=args.torch_threads,
        out=out,
        worker_timeout_s=args.worker_timeout,
        allow_oversubscription=args.allow_oversubscription,
    )
    try:
        check_config(cfg)  # bad input stays one error line, before any progress line
        if args.workers is None and args.parallel != "serial":
            steps(f"{workers} workers (default max(2, cores // 2); --workers N to change)")
        steps(f"playing {args.games} games ({args.parallel}, {workers} worker(s))")
        result = run_selfplay(cfg, on_game=lambda done: steps(f"game {done}/{args.games} done"))
    except WorkerError as exc:
        print(f"perfopt: error: {mask_secrets(str(exc))}", file=sys.stderr)
        return 1
    print(result.report())
    (out / "selfplay.json").write_text(json.dumps(result.to_dict(), indent=2, default=str))
    print(f"{result.games} games written to {result.out_file}, summary to {out / 'selfplay.json'}")
    return 0
