"""Command line: argument parsing only; each subcommand calls one library function.

Every subcommand lives in a module of this package that exposes
`register(subparsers)`; the module adds its parser and sets `handler` (a function of
the parsed arguments returning an exit status). Handlers import heavy libraries
inside the function, so `perfopt --help` stays fast.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from collections.abc import Sequence

from perfopt import __version__
from perfopt.errors import UserError

# Order is the order of `perfopt --help`.
_COMMAND_MODULES: tuple[str, ...] = (
    "perfopt.cli.data",
    "perfopt.cli.backtest",
    "perfopt.cli.train",
    "perfopt.cli.optimize",
    "perfopt.cli.selfplay",
    "perfopt.cli.profile",
    "perfopt.cli.matrix",
)


def build_parser() -> argparse.ArgumentParser:
    """Return the top-level parser with every subcommand registered."""
    parser = argparse.ArgumentParser(
        prog="perfopt",
        description=(
            "Measure where an optimization pipeline's time goes (backtests, Optuna "
            "searches, torch training and self-play), fix it, and prove the fix."
        ),
    )
    parser.add_argument("--version", action="version", version=f"perfopt {__version__}")
    parser.add_argument(
        "-v", "--verbose", action="store_true", help="log progress details to stderr"
    )
    subparsers = parser.add_subparsers(title="commands", dest="command", metavar="COMMAND")
    for module_name in _COMMAND_MODULES:
        importlib.import_module(module_name).register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line and return its exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )
    handler = getattr(args, "handler", None)
    if handler is None:
        parser.print_help()
        return 2
    try:
        return int(handler(args) or 0)
    except UserError as exc:
        print(f"perfopt: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("perfopt: interrupted", file=sys.stderr)
        return 130
