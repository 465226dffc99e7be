"""`--config FILE`: a TOML file of a command's options; flags on the command line win.

A file holds one table per command, keyed by the long flag names (dashes or
underscores both work):

    [optimize]
    data = "data/crypto"
    symbol = "BTCUSDT"
    timeframe-grid = "1m@15m,5m@1h"
    n-trials = 200

    [train]
    data = "data/seq.h5"
    loader = "chunk"
    epochs = 2

Each value goes through the same type check and choices as its flag, and lands on the
same parsed arguments, so the command builds the same config dataclass
(`OptimizeConfig`, `TrainConfig`) whichever way a value came. A flag given on the
command line overrides the file. Unknown keys, wrong types and values a flag would
refuse are errors naming the file, the table and the key.
"""

from __future__ import annotations

import argparse
import tomllib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from perfopt.errors import UserError

_SENTINEL = object()


def add_config_flag(parser: argparse.ArgumentParser, table: str) -> None:
    """Add `--config FILE` to parser; its values are read from the file's [table]."""
    parser.add_argument(
        "--config",
        type=Path,
        default=None,
        metavar="FILE",
        help=f"TOML file whose [{table}] table sets any of these options by their long "
        "names (n-trials = 200); flags on the command line override it (docs/config-files.md)",
    )
    parser.set_defaults(_config_parser=parser, _config_table=table)


def given_on_command_line(parser: argparse.ArgumentParser, argv: Sequence[str]) -> set[str]:
    """The dests of the options present in argv (the subcommand's own arguments)."""
    # argparse fills a default only where the namespace lacks the attribute: a sentinel in
    # every slot survives exactly for the options argv did not name.
    dests = {a.dest for a in parser._actions if a.dest != argparse.SUPPRESS}
    ns = argparse.Namespace(**dict.fromkeys(dests, _SENTINEL))
    try:
        parser.parse_known_args(list(argv), ns)
    except SystemExit:  # cannot happen after a successful first parse; be safe anyway
        return dests
    return {d for d in dests if getattr(ns, d) is not _SENTINEL}


def read_table(path: Path, table: str) -> dict[str, Any]:
    """The [table] of a TOML file, with a clear error for a missing or malformed file."""
    if not path.is_file():
        raise UserError(f"--config {path}: no such file; give the path of a TOML file")
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise UserError(f"--config {path}: not valid TOML ({exc}); fix the file") from None
    section = data.get(table)
    if section is None:
        tables = ", ".join(f"[{t}]" for t in data) or "none"
        raise UserError(f"--config {path}: no [{table}] table (tables found: {tables})")
    if not isinstance(section, dict):
        raise UserError(f"--config {path}: {table} must be a table ([{table}]), not a value")
    return section


def command_argv(args: argparse.Namespace) -> list[str] | None:
    """The subcommand's own arguments (after its name), from the argv main() parsed."""
    argv = getattr(args, "_argv", None)
    command = getattr(args, "command", None)
    if argv is None or command not in argv:
        return None
    return list(argv[argv.index(command) + 1 :])


def apply_config_file(args: argparse.Namespace, argv: Sequence[str] | None = None) -> set[str]:
    """Fill args from --config's table where the command line did not give the option.

    argv is the subcommand's own argument list (default: taken from what main() parsed);
    returns the dests the file set.
    """
    path = getattr(args, "config", None)
    if path is None:
        return set()
    if argv is None:
        argv = command_argv(args)
    parser: argparse.ArgumentParser = args._config_parser
    table: str = args._config_table
    values = read_table(path, table)
    actions = {a.dest: a for a in parser._actions if a.dest not in (argparse.SUPPRESS, "help")}
    if argv is None:
        raise UserError("--config needs the command line it came with (call perfopt.cli.main)")
    given = given_on_command_line(parser, argv)
    applied: set[str] = set()
    for key, value in values.items():
        dest = key.replace("-", "_")
        action = actions.get(dest)
        if action is None or dest == "config" or not action.option_strings:
            known = ", ".join(sorted(d.replace("_", "-") for d in actions if d != "config"))
            raise UserError(
                f"--config {path}: unknown key {key!r} in [{table}]; known keys: {known}"
            )
        if dest in given:
            continue  # the command line wins
        setattr(args, dest, _convert(path, table, key, action, value))
        applied.add(dest)
    return applied


def _convert(path: Path, table: str, key: str, action: argparse.Action, value: Any) -> Any:
    """Check one file value the way its flag would be checked."""
    where = f"--config {path}: [{table}] {key} = {value!r}"
    flag_takes_no_value = action.nargs == 0 or isinstance(
        action, argparse._StoreTrueAction | argparse._StoreFalseAction
    )
    if flag_takes_no_value or isinstance(action, argparse.BooleanOptionalAction):
        if not isinstance(value, bool):
            raise UserError(f"{where}: must be true or false")
        return value
    if isinstance(action, argparse._AppendAction):
        items = value if isinstance(value, list) else [value]
        return [_one(where, action, v) for v in items]
    if isinstance(value, list | dict):
        raise UserError(f"{where}: must be a single value (a string or a number)")
    return _one(where, action, value)


def _one(where: str, action: argparse.Action, value: Any) -> Any:
    if isinstance(value, bool):
        raise UserError(f"{where}: a true/false value is not accepted here")
    if action.type is not None:
        try:
            value = action.type(str(value))  # type: ignore[operator]
        except (argparse.ArgumentTypeError, TypeError, ValueError) as exc:
            raise UserError(f"{where}: {exc}") from None
    elif not isinstance(value, str):
        value = str(value)
    if action.choices is not None and value not in action.choices:
        choices = ", ".join(str(c) for c in action.choices)
        raise UserError(f"{where}: must be one of {choices}")
    return value
