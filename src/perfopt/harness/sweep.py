"""`perfopt sweep`: a matrix over any command line, axes given on the command line."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from perfopt.command.template import check_command, find_placeholders
from perfopt.errors import UserError
from perfopt.harness.spec import Grid, MatrixSpec

_AXIS = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*)=(.+)$")


def parse_value(text: str) -> Any:
    """Turn "2" into 2, "0.5" into 0.5, "true" into True; anything else stays a string."""
    lowered = text.strip().lower()
    if lowered in ("true", "false"):
        return lowered == "true"
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text.strip()


def parse_axes(items: Sequence[str]) -> dict[str, list[Any]]:
    """Parse ["n_jobs=1,2", "mode=trial,backtest"] into {"n_jobs": [1, 2], ...}."""
    axes: dict[str, list[Any]] = {}
    for item in items:
        match = _AXIS.match(item)
        if not match:
            raise UserError(f"--axis {item!r} must look like NAME=V1,V2 (e.g. n_jobs=1,2)")
        name, values = match.group(1), [v for v in match.group(2).split(",") if v.strip()]
        if name in axes:
            raise UserError(f"--axis {name} given twice; list all its values once")
        if name in ("argv", "env"):
            raise UserError(f"--axis {name} is reserved; choose another axis name")
        if not values:
            raise UserError(f"--axis {item!r} has no values")
        axes[name] = [parse_value(v) for v in values]
    return axes


def sweep_spec(
    argv: Sequence[str],
    axis_items: Sequence[str],
    repeats: int = 3,
    cell_timeout: float = 600.0,
    pyspy: bool = True,
    name: str = "sweep",
) -> MatrixSpec:
    """Build a one-grid spec running `argv` with every combination of the axes."""
    argv = list(argv)
    check_command(argv)
    axes = parse_axes(axis_items)
    used = find_placeholders(argv)
    missing = sorted(used - set(axes))
    if missing:
        raise UserError(
            f"the command uses {', '.join('{' + m + '}' for m in missing)} but no --axis "
            f"gives it; axes given: {', '.join(axes) or 'none'}"
        )
    unused = sorted(set(axes) - used)
    if unused:
        raise UserError(
            f"--axis {', '.join(unused)} not used by the command: add "
            f"{' '.join('{' + u + '}' for u in unused)} to it"
        )
    if repeats < 1:
        raise UserError(f"--repeats must be at least 1, got {repeats}")
    grid = Grid(name="sweep", workload="command", fixed={"argv": argv}, axes=axes)
    return MatrixSpec(
        name=name,
        source="perfopt sweep",
        grids=[grid],
        repeats=repeats,
        cell_timeout=cell_timeout,
        pyspy=pyspy,
    )
