"""Matrix specs: TOML presets shipped in the package and user files.

A spec names run-wide settings and a list of grids; each grid is one workload, fixed
parameters, axes (the values to try), include/exclude rules and an optional baseline:

    name = "quick"
    repeats = 3            # runs per cell, each in a fresh process, interleaved per grid
    cell_timeout = 120     # seconds of measured run per repeat before the group is killed
    prepare_timeout = 600  # seconds for the untimed prepare step (data generation)
    pyspy = true           # py-spy view when available
    pyspy_separate = true  # py-spy watches one extra untimed run (false: the last timed run)
    overhead = false       # measure the views' own overhead once per run
    cell_start = "fork"    # fork repeats from a warm interpreter per workload ("exec": a new
                           # interpreter per repeat, imports included; see harness/launcher.py)

    [[grid]]
    name = "backtest-engines"
    workload = "backtest"
    fixed = { tickers = 500, days = 756 }
    axes = { engine = ["reference", "numba"], source = ["sqlite", "parquet"] }
    exclude = [{ engine = "reference", source = "parquet" }]   # drop matching cells
    include = [{ engine = "reference", source = "sqlite", access = "naive" }]  # extra cells
    baseline = { engine = "reference" }   # the "default configuration" of this grid
    repeats = 3            # optional per grid

A rule matches a cell when every key it names has that value (or one of a list).

A user's own matrix (docs/your-objective.md) may name `workload = "objective"` with
`objective = "path.py:function"` (and `objective_setup`) on the grid, or a
`workload = "module:Class"` / `"path.py:Class"` implementing `perfopt.Workload`, and
add `[[target]]` tables (perfopt.harness.user_targets). Relative .py paths are taken
from the TOML file's folder.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from importlib import resources
from pathlib import Path
from typing import Any

from perfopt.errors import UserError

_TOP_KEYS = {
    "name",
    "description",
    "repeats",
    "cell_timeout",
    "prepare_timeout",
    "pyspy",
    "pyspy_separate",
    "overhead",
    "cell_start",
    "grid",
    "target",
}
_GRID_KEYS = {
    "name", "workload", "fixed", "axes", "include", "exclude", "baseline", "repeats",
    "objective", "objective_setup",
}  # fmt: skip


@dataclass(frozen=True)
class Grid:
    """One workload's axes and rules inside a spec."""

    name: str
    workload: str
    fixed: dict[str, Any] = field(default_factory=dict)
    axes: dict[str, list[Any]] = field(default_factory=dict)
    include: list[dict[str, Any]] = field(default_factory=list)
    exclude: list[dict[str, Any]] = field(default_factory=list)
    baseline: dict[str, Any] | None = None
    repeats: int | None = None


@dataclass(frozen=True)
class MatrixSpec:
    """A whole matrix: run-wide settings plus grids, as read from TOML or built by sweep."""

    name: str
    source: str
    grids: list[Grid]
    description: str = ""
    repeats: int = 3
    cell_timeout: float = 300.0
    prepare_timeout: float = 600.0
    pyspy: bool = True
    pyspy_separate: bool = True
    overhead: bool = False
    cell_start: str = "fork"  # how each repeat's process starts: see CELL_STARTS
    targets: tuple[Any, ...] = ()  # claims.Target from [[target]] tables

    def with_overrides(
        self,
        repeats: int | None = None,
        cell_timeout: float | None = None,
        pyspy: bool | None = None,
        cell_start: str | None = None,
    ) -> MatrixSpec:
        """Return a copy with command-line overrides applied (None keeps the spec's)."""
        spec = self
        if repeats is not None:
            if repeats < 1:
                raise UserError(f"--repeats must be at least 1, got {repeats}")
            grids = [replace(g, repeats=repeats) for g in spec.grids]
            spec = replace(spec, repeats=repeats, grids=grids)
        if cell_timeout is not None:
            if cell_timeout <= 0:
                raise UserError(f"--cell-timeout must be positive, got {cell_timeout}")
            spec = replace(spec, cell_timeout=float(cell_timeout))
        if pyspy is not None:
            spec = replace(spec, pyspy=pyspy)
        if cell_start is not None:
            spec = replace(spec, cell_start=_cell_start(cell_start, "--cell-start"))
        return spec


# How a repeat's process starts. "fork": from a warm interpreter that imported the
# workload once (its imports are not paid per repeat); "exec": a new interpreter each
# time, for a workload whose measurement must include a cold start.
CELL_STARTS = ("fork", "exec")


def _cell_start(value: Any, where: str) -> str:
    if value not in CELL_STARTS:
        raise UserError(f"{where} must be one of {', '.join(CELL_STARTS)}, got {value!r}")
    return str(value)


def preset_names() -> list[str]:
    """Return the names of the presets shipped in the package."""
    folder = resources.files("perfopt.harness") / "presets"
    return sorted(p.name[:-5] for p in folder.iterdir() if p.name.endswith(".toml"))


def load_spec(preset_or_file: str) -> MatrixSpec:
    """Load a shipped preset by name or a user TOML file by path."""
    path = Path(preset_or_file)
    if path.suffix == ".toml" or path.exists():
        if not path.is_file():
            raise UserError(f"matrix file {path} does not exist")
        return parse_spec(path.read_text(encoding="utf-8"), str(path), path.resolve().parent)
    names = preset_names()
    if preset_or_file not in names:
        raise UserError(
            f"unknown preset {preset_or_file!r}; valid presets: {', '.join(names)} "
            "(or the path of a .toml matrix file)"
        )
    text = (resources.files("perfopt.harness") / "presets" / f"{preset_or_file}.toml").read_text(
        encoding="utf-8"
    )
    return parse_spec(text, f"preset {preset_or_file}")


def parse_spec(text: str, source: str, base_dir: Path | None = None) -> MatrixSpec:
    """Parse spec TOML text; `source` names the file in error messages.

    `base_dir` is where relative .py paths in SPECs start (the file's folder; default cwd).
    """
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        # tomllib's message carries "(at line N, column M)"
        raise UserError(f"{source}: malformed TOML: {exc}") from exc
    _refuse_unknown(data, _TOP_KEYS, source, "top level")
    grids_raw = data.get("grid", [])
    if not isinstance(grids_raw, list) or not grids_raw:
        raise UserError(f"{source}: needs at least one [[grid]] table")
    base = base_dir or Path.cwd()
    grids = [_parse_grid(raw, i, source, base) for i, raw in enumerate(grids_raw)]
    names = [g.name for g in grids]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise UserError(f"{source}: grid names must be unique, repeated: {', '.join(dupes)}")
    default_name = re.sub(r"\.toml$", "", Path(source.removeprefix("preset ")).name)
    from perfopt.harness.user_targets import parse_targets

    targets = parse_targets(
        data.get("target"), source, [g.workload for g in grids],
        lambda name: resolve_spec_path(name, base),
    )  # fmt: skip
    return MatrixSpec(
        name=str(data.get("name", default_name)),
        source=source,
        grids=grids,
        description=str(data.get("description", "")),
        repeats=_positive_int(data.get("repeats", 3), source, "repeats"),
        cell_timeout=_positive(data.get("cell_timeout", 300.0), source, "cell_timeout"),
        prepare_timeout=_positive(data.get("prepare_timeout", 600.0), source, "prepare_timeout"),
        pyspy=bool(data.get("pyspy", True)),
        pyspy_separate=bool(data.get("pyspy_separate", True)),
        overhead=bool(data.get("overhead", False)),
        cell_start=_cell_start(data.get("cell_start", "fork"), f"{source}: cell_start"),
        targets=targets,
    )


def resolve_spec_path(spec: str, base: Path) -> str:
    """A 'path.py:name' SPEC with its relative path made absolute from `base`."""
    target, sep, attr = spec.rpartition(":")
    if not sep or not (target.endswith(".py") or "/" in target):
        return spec
    path = Path(target).expanduser()
    return f"{path if path.is_absolute() else (base / path).resolve()}:{attr}"


def _parse_grid(raw: Any, index: int, source: str, base: Path) -> Grid:
    where = f"grid #{index + 1}"
    if not isinstance(raw, dict):
        raise UserError(f"{source}: {where} must be a table")
    _refuse_unknown(raw, _GRID_KEYS, source, where)
    workload = raw.get("workload")
    if not isinstance(workload, str) or not workload:
        raise UserError(f'{source}: {where} needs workload = "NAME"')
    workload = resolve_spec_path(workload, base)
    short = workload.rpartition(":")[2] if ":" in workload else workload
    name = str(raw.get("name", f"{short}-{index + 1}"))
    where = f"grid {name!r}"
    axes_raw = raw.get("axes", {})
    if not isinstance(axes_raw, dict):
        raise UserError(f"{source}: {where}: axes must be a table of lists")
    axes: dict[str, list[Any]] = {}
    for axis, values in axes_raw.items():
        values = values if isinstance(values, list) else [values]
        if not values:
            raise UserError(f"{source}: {where}: axis {axis!r} has no values")
        axes[axis] = values
    repeats = raw.get("repeats")
    fixed = _table(raw.get("fixed", {}), source, where, "fixed")
    for key in ("objective", "objective_setup"):
        if key in raw:
            if workload != "objective":
                raise UserError(f'{source}: {where}: {key} belongs to workload = "objective"')
            if not isinstance(raw[key], str) or ":" not in raw[key]:
                raise UserError(
                    f'{source}: {where}: {key} = "path.py:function" or "package.module:function"'
                )
            fixed[key] = resolve_spec_path(raw[key], base)
    if workload == "objective" and "objective" not in fixed:
        raise UserError(f'{source}: {where}: workload "objective" needs objective = "path.py:function"')
    return Grid(
        name=name,
        workload=workload,
        fixed=fixed,
        axes=axes,
        include=_rules(raw.get("include", []), source, where, "include"),
        exclude=_rules(raw.get("exclude", []), source, where, "exclude"),
        baseline=(
            _table(raw["baseline"], source, where, "baseline") if "baseline" in raw else None
        ),
        repeats=None if repeats is None else _positive_int(repeats, source, f"{where} repeats"),
    )


def _refuse_unknown(data: Mapping[str, Any], valid: set[str], source: str, where: str) -> None:
    unknown = sorted(set(data) - valid)
    if unknown:
        raise UserError(
            f"{source}: unknown key(s) {', '.join(unknown)} at {where}; "
            f"valid keys: {', '.join(sorted(valid))}"
        )


def _table(value: Any, source: str, where: str, key: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise UserError(f"{source}: {where}: {key} must be a table")
    return dict(value)


def _rules(value: Any, source: str, where: str, key: str) -> list[dict[str, Any]]:
    if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
        raise UserError(f"{source}: {where}: {key} must be a list of tables")
    return [dict(v) for v in value]


def _positive(value: Any, source: str, key: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
        raise UserError(f"{source}: {key} must be a positive number, got {value!r}")
    return float(value)


def _positive_int(value: Any, source: str, key: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise UserError(f"{source}: {key} must be a positive integer, got {value!r}")
    return value
