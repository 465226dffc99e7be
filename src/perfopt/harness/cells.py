"""Expand a spec into cells: one workload plus one value per axis, with a stable id.

Validation happens here, before any work starts: unknown workloads, axes and values are
refused with the valid ones listed. A workload whose module cannot be imported turns
its cells into "skipped" with the import error, and `Workload.skip_reason` skips
invalid combinations with the workload's own reason; nothing is silently dropped.
"""

from __future__ import annotations

import hashlib
import itertools
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from perfopt.errors import UserError
from perfopt.harness import registry
from perfopt.harness.spec import Grid, MatrixSpec
from perfopt.workload import Workload

# Axes the harness itself understands (taken out before params reach the workload).
HARNESS_AXES: frozenset[str] = frozenset({"blas_threads"})


@dataclass(frozen=True)
class Cell:
    """One configuration to run: workload, explicit params, id, and what to do with it."""

    cell_id: str
    workload: str
    import_path: str
    grid: str
    params: dict[str, Any]
    resolved: dict[str, Any]
    repeats: int
    baseline: bool
    skip: str | None
    uses_workers: bool
    problem_axes: Mapping[str, str] = field(default_factory=dict)

    @property
    def label(self) -> str:
        """Human-readable "k=v k=v" of the scalar params (ids are for machines)."""
        return params_label(self.params)


def cell_id(workload: str, params: Mapping[str, Any]) -> str:
    """Return the deterministic id of a cell: workload name plus a hash of its params."""
    blob = json.dumps({"workload": workload, "params": params}, sort_keys=True, default=str)
    # A user's "path/file.py:Class" would name a folder: the class name only.
    return f"{registry.label(workload)}-{hashlib.sha256(blob.encode()).hexdigest()[:10]}"


def params_label(params: Mapping[str, Any]) -> str:
    """Return "k=v k=v" for scalar params in sorted order."""
    return " ".join(
        f"{k}={_fmt(v)}" for k, v in sorted(params.items()) if not isinstance(v, list | dict)
    )


def expand(spec: MatrixSpec) -> list[Cell]:
    """Return the cells of a spec in spec order, validated, duplicates removed."""
    cells: list[Cell] = []
    seen: set[str] = set()
    classes: dict[str, type[Workload] | str] = {}
    for grid in spec.grids:
        path = registry.import_path(grid.workload)
        if grid.workload not in classes:
            try:
                classes[grid.workload] = registry.load_class(path)
            except registry.WorkloadUnavailable as exc:
                if ":" in grid.workload:  # the user's own class: say so now, not as skips
                    raise UserError(f"{spec.source}: grid {grid.name!r}: {exc}") from None
                classes[grid.workload] = str(exc)
        loaded = classes[grid.workload]
        cls = None if isinstance(loaded, str) else loaded
        if cls is not None:
            _validate_grid(grid, cls, spec.source)
        instance = cls() if cls is not None else None
        repeats = grid.repeats or spec.repeats
        combos = _grid_params(grid)
        baseline_idx = _baseline_index(grid, combos, cls)
        for i, params in enumerate(combos):
            cid = cell_id(grid.workload, params)
            if cid in seen:
                continue
            seen.add(cid)
            defaults = dict(cls.defaults) if cls is not None else {}
            resolved = {**defaults, **params}
            if instance is None:
                skip: str | None = str(loaded)
            else:
                workload_params = {k: v for k, v in resolved.items() if k not in HARNESS_AXES}
                skip = instance.skip_reason(workload_params)
            cells.append(
                Cell(
                    cell_id=cid,
                    workload=registry.label(grid.workload),
                    import_path=path,
                    grid=grid.name,
                    params=params,
                    resolved=resolved,
                    repeats=repeats,
                    baseline=i == baseline_idx,
                    skip=skip,
                    uses_workers=_uses_workers(resolved, cls),
                    problem_axes=_problem_axes(cls),
                )
            )
    return cells


def matches(rule: Mapping[str, Any], params: Mapping[str, Any]) -> bool:
    """True when every key of `rule` has that value (or one of a list) in `params`."""
    for key, want in rule.items():
        if key not in params:
            return False
        options = want if isinstance(want, list) else [want]
        if params[key] not in options:
            return False
    return True


def _grid_params(grid: Grid) -> list[dict[str, Any]]:
    names = list(grid.axes)
    combos = []
    for values in itertools.product(*(grid.axes[n] for n in names)):
        params = {**grid.fixed, **dict(zip(names, values, strict=True))}
        if not any(matches(rule, params) for rule in grid.exclude):
            combos.append(params)
    combos.extend({**grid.fixed, **extra} for extra in grid.include)
    return combos


def _baseline_index(
    grid: Grid, combos: Sequence[Mapping[str, Any]], cls: type[Workload] | None
) -> int:
    """Index of the grid's default configuration: `baseline`, else workload defaults."""
    if grid.baseline is not None:
        for i, params in enumerate(combos):
            if matches(grid.baseline, params):
                return i
        return -1
    defaults = dict(cls.defaults) if cls is not None else {}
    # the cell agreeing with the workload's defaults on the most axes; ties -> first
    best, best_score = 0, -1
    for i, params in enumerate(combos):
        score = sum(1 for k, v in params.items() if defaults.get(k) == v)
        if score > best_score:
            best, best_score = i, score
    return best


def _validate_grid(grid: Grid, cls: type[Workload], source: str) -> None:
    where = f"{source}: grid {grid.name!r} ({grid.workload})"
    open_axes = bool(getattr(cls, "open_axes", False))
    valid = dict(cls.axes)
    tables: list[Mapping[str, Any]] = [grid.fixed, *grid.include, *grid.exclude]
    if grid.baseline:
        tables.append(grid.baseline)
    named: dict[str, list[Any]] = {k: list(v) for k, v in grid.axes.items()}
    for table in tables:
        for k, v in table.items():
            named.setdefault(k, []).extend(v if isinstance(v, list) else [v])
    for axis, values in named.items():
        if axis in HARNESS_AXES:
            continue
        if axis not in valid:
            if open_axes:
                continue
            raise UserError(
                f"{where}: unknown axis {axis!r}; valid axes: {', '.join(sorted(valid)) or 'none'}"
            )
        allowed = list(valid[axis])
        for value in values:
            if not _value_ok(value, allowed):
                raise UserError(
                    f"{where}: unknown value {value!r} for axis {axis!r}; "
                    f"valid values: {', '.join(_fmt(a) for a in allowed)}"
                )


def _value_ok(value: Any, allowed: Sequence[Any]) -> bool:
    """Categorical axes need a listed value; numeric axes take any number."""
    if not allowed:
        return True
    numeric = all(isinstance(a, int | float) and not isinstance(a, bool) for a in allowed)
    if numeric:
        return isinstance(value, int | float) and not isinstance(value, bool)
    return value in allowed


_WORKER_AXES = ("workers", "n_jobs", "bt_workers", "num_workers")


def _uses_workers(params: Mapping[str, Any], cls: type[Workload] | None) -> bool:
    """Whether a cell runs more than one worker (its BLAS pools then get capped at 1)."""
    axes = getattr(cls, "worker_axes", _WORKER_AXES) if cls is not None else _WORKER_AXES
    for axis in axes:
        value = params.get(axis)
        if isinstance(value, int) and not isinstance(value, bool) and value > 1:
            return True
    return params.get("parallel") not in (None, "serial")


def _problem_axes(cls: type[Workload] | None) -> dict[str, str]:
    """The axes whose change changes the problem, as the workload declares them."""
    return dict(getattr(cls, "problem_axes", {}) or {}) if cls is not None else {}


def _fmt(value: Any) -> str:
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)
