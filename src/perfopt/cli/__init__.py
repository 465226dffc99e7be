"""Command line: argument parsing only; each subcommand calls one library function.

Every subcommand lives in a module of this package that exposes
`register(subparsers)`; the module adds its parser and sets `handler` (a function of
the parsed arguments returning an exit status). Handlers import heavy libraries
inside the function, so `perfopt --help` stays fast.

Every parser takes options by their full names only (no abbreviations: `--storage-url`
must never be read as `--storage-url-env`), and reports bad usage as one line with exit
status 2. Everything perfopt prints on the way out, error lines, logs and the traceback
of a bug, has its secrets masked (perfopt.urls).
"""

from __future__ import annotations

import argparse
import importlib
import logging
import re
import sys
import traceback
from collections.abc import Sequence
from typing import NoReturn

from perfopt import __version__
from perfopt.errors import ServiceError, UserError
from perfopt.urls import mask_secrets

# Order is the order of `perfopt --help`.
_COMMAND_MODULES: tuple[str, ...] = (
    "perfopt.cli.data",
    "perfopt.cli.backtest",
    "perfopt.cli.train",
    "perfopt.cli.optimize",
    "perfopt.cli.advise",
    "perfopt.cli.selfplay",
    "perfopt.cli.profile",
    "perfopt.cli.matrix",
)


class Parser(argparse.ArgumentParser):
    """argparse without abbreviations, whose usage errors are one masked line (exit 2)."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        kwargs["allow_abbrev"] = False
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]

    def error(self, message: str) -> NoReturn:
        """Print `perfopt: error: message (see PROG --help)` on one line; exit status 2."""
        line = " ".join(mask_secrets(message).split())
        # "argument --x: must be ..." (our argument types) reads "--x must be ...".
        line = re.sub(r"^argument (-[\w-]+(?:/-[\w-]+)*): (?=must |expected )", r"\1 ", line)
        self.exit(2, f"perfopt: error: {line} (see {self.prog} --help)\n")


class _MaskingFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        return mask_secrets(super().format(record))


def build_parser() -> argparse.ArgumentParser:
    """Return the top-level parser with every subcommand registered."""
    parser = Parser(
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


def _setup_logging(verbose: bool) -> None:
    """logging.basicConfig, with a formatter that masks secrets in every line."""
    root = logging.getLogger()
    if root.handlers:
        return  # configured already (an embedding program, a test runner)
    handler = logging.StreamHandler()
    handler.setFormatter(_MaskingFormatter("%(levelname)s %(name)s: %(message)s"))
    root.addHandler(handler)
    root.setLevel(logging.INFO if verbose else logging.WARNING)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line and return its exit status."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help, --version, or a usage error already printed
        return exc.code if isinstance(exc.code, int) else 2
    _setup_logging(args.verbose)
    # what --config needs to tell flags given on the command line from the file's values
    args._argv = list(argv) if argv is not None else sys.argv[1:]
    handler = getattr(args, "handler", None)
    if handler is None:
        parser.print_help()
        return 2
    try:
        return int(handler(args) or 0)
    except (UserError, ServiceError) as exc:
        line = " ".join(mask_secrets(str(exc)).split())
        print(f"perfopt: error: {line}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("perfopt: interrupted", file=sys.stderr)
        return 130
    except Exception:  # a bug: keep its traceback, without the secrets it may show
        print(mask_secrets(traceback.format_exc()).rstrip(), file=sys.stderr)
        return 1
