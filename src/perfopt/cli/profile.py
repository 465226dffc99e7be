"""`perfopt profile`: run any command watched by psutil and py-spy, and say where its time went."""

from __future__ import annotations

import argparse
from pathlib import Path

from perfopt.errors import UserError
from perfopt.run_folders import run_stamp


def _positive_float(text: str) -> float:
    value = float(text)
    if not 0 < value < float("inf"):  # nan and inf too
        raise argparse.ArgumentTypeError(f"must be positive, got {text}")
    return value


def _positive_int(text: str) -> int:
    value = int(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be positive, got {text}")
    return value


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the `profile` subcommand."""
    p = subparsers.add_parser(
        "profile",
        help="run a command and show where its time went (thread states, psutil, py-spy)",
        description=(
            "Run CMD (for example your own optimize script) and watch its whole process "
            "tree: the kernel state of every thread (running, runnable, blocked on disk, "
            "network, a pipe, or asleep), psutil CPU/IO/threads/RSS, and py-spy samples "
            "with native frames sorted into categories (database IO, file IO, network IO, "
            "IPC and pickling, Optuna storage, numeric compute, Python compute, waiting, "
            "start-up, unclassified). Print the verdict (one kind: cpu-python, cpu-native, "
            "io-disk, io-database, io-network, waiting, oversubscribed, start-up, mixed, "
            "unclassified, or failed) and what the views cost, and write profile.json."
        ),
        epilog="example: perfopt profile --rate 50 -- python my_optimize.py --trials 100",
    )
    p.add_argument(
        "--pyspy",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="sample stacks with py-spy (default on; off: psutil and threads views only)",
    )
    p.add_argument(
        "--native",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="py-spy native frames (BLAS, sqlite3, socket and file calls); default: where "
        "py-spy can read them here (it pauses the target for each sample)",
    )
    p.add_argument(
        "--rate",
        type=_positive_int,
        default=50,
        metavar="HZ",
        help="py-spy samples per second (default 50)",
    )
    p.add_argument(
        "--interval-hz",
        type=_positive_float,
        default=10.0,
        metavar="HZ",
        help="psutil samples of the process tree per second (default 10)",
    )
    p.add_argument(
        "--timeout",
        type=_positive_float,
        default=None,
        metavar="SECONDS",
        help="stop the command's process group after this long (default: no limit)",
    )
    p.add_argument(
        "--out",
        type=Path,
        default=None,
        metavar="DIR",
        help="folder for profile.json and the raw py-spy file "
        "(default runs/profile-<UTC timestamp>/, never an existing one)",
    )
    p.add_argument(
        "cmd",
        nargs=argparse.REMAINDER,
        metavar="-- CMD ...",
        help="the command to run and its arguments, after `--`",
    )
    p.set_defaults(handler=_run)


def default_out_dir(root: Path = Path("runs")) -> Path:
    """Return runs/profile-<UTC timestamp>/, with a suffix if that folder exists."""
    stamp = run_stamp()
    candidate = root / f"profile-{stamp}"
    n = 2
    while candidate.exists():
        candidate = root / f"profile-{stamp}-{n}"
        n += 1
    return candidate


def _run(args: argparse.Namespace) -> int:
    from perfopt.profiling import format_profile, profile_command

    cmd = list(args.cmd)
    if cmd and cmd[0] == "--":
        cmd = cmd[1:]
    if not cmd:
        raise UserError("no command to profile: put it after `--`, e.g. `-- python my_script.py`")
    out = args.out
    if out is None:
        out = default_out_dir()
    elif (out / "profile.json").exists():
        raise UserError(f"{out / 'profile.json'} exists: choose another --out or remove it")
    result = profile_command(
        cmd,
        out,
        pyspy=args.pyspy,
        rate=args.rate,
        hz=args.interval_hz,
        timeout=args.timeout,
        native=args.native,
    )
    print(format_profile(result))
    print(f"wrote {result['profile_path']}")
    return 0 if result["exit_code"] == 0 and not result["timed_out"] else 1
