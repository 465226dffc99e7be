"""Workload registry: names mapped to lazy import paths.

The harness reaches workloads only through this table, so a workload module that is
missing (not written yet, or an optional dependency absent) makes its cells "skipped"
with the import error as the reason instead of crashing the whole matrix. Extra
workloads (for tests or user plugins) come from `register_workload` or the
`PERFOPT_EXTRA_WORKLOADS` environment variable ("name=module:Class,name2=...").
"""

from __future__ import annotations

import importlib
import os
import re
from collections.abc import Mapping

from perfopt.errors import UserError
from perfopt.workload import Workload

ENV_EXTRA = "PERFOPT_EXTRA_WORKLOADS"

_BUILTIN: dict[str, str] = {
    "backtest": "perfopt.backtest.workload:BacktestWorkload",
    "optimize": "perfopt.optimize.workload:OptimizeWorkload",
    "train": "perfopt.train.workload:TrainWorkload",
    "selfplay": "perfopt.selfplay.workload:SelfplayWorkload",
    "command": "perfopt.command.workload:CommandWorkload",
    "objective": "perfopt.optimize.objective_workload:ObjectiveWorkload",
}
_REGISTERED: dict[str, str] = {}


class WorkloadUnavailable(Exception):
    """A registered workload whose module or class cannot be loaded (cells get skipped)."""


def register_workload(name: str, import_path: str) -> None:
    """Add or replace a workload entry ("module:Class") for this process."""
    _check_path(name, import_path)
    _REGISTERED[name] = import_path


def unregister_workload(name: str) -> None:
    """Remove an entry added with `register_workload` (no error when absent)."""
    _REGISTERED.pop(name, None)


def workloads() -> dict[str, str]:
    """Return every known workload name with its import path (builtin, env, registered)."""
    table = dict(_BUILTIN)
    table.update(_parse_env(os.environ.get(ENV_EXTRA, "")))
    table.update(_REGISTERED)
    return table


def label(name: str) -> str:
    """The name records and reports use: a user's "path/file.py:Class" becomes "Class"."""
    if ":" not in name:
        return name
    return re.sub(r"[^A-Za-z0-9_.-]", "_", name.rpartition(":")[2])


def is_builtin(name: str) -> bool:
    """Whether a workload name is one of perfopt's own."""
    return name in _BUILTIN


def import_path(name: str) -> str:
    """Return the import path of workload `name`, or raise UserError listing valid names.

    A name with ':' is itself a path: "module:Class" or "path/file.py:Class" (a user's
    own `perfopt.Workload`).
    """
    if ":" in name:
        _check_path(name, name)
        return name
    table = workloads()
    if name not in table:
        raise UserError(f"unknown workload {name!r}; valid workloads: {', '.join(sorted(table))}")
    return table[name]


def load_class(path: str) -> type[Workload]:
    """Import "module:Class" (or "file.py:Class") and return the class, or WorkloadUnavailable."""
    module_name, _, class_name = path.rpartition(":")
    if module_name.endswith(".py") or "/" in module_name:
        from perfopt.optimize.user_objective import load_callable

        try:
            cls = load_callable(path, "workload")
        except UserError as exc:
            raise WorkloadUnavailable(str(exc)) from exc
        return _checked(cls, path)
    try:
        module = importlib.import_module(module_name)
    except Exception as exc:  # noqa: BLE001 - any import failure means "not available"
        raise WorkloadUnavailable(
            f"workload module {module_name} is not importable: {type(exc).__name__}: {exc}"
        ) from exc
    cls = getattr(module, class_name, None)
    if cls is None:
        raise WorkloadUnavailable(f"workload module {module_name} has no class {class_name}")
    return _checked(cls, path)


def _checked(cls: object, path: str) -> type[Workload]:
    if not (isinstance(cls, type) and issubclass(cls, Workload)):
        raise WorkloadUnavailable(
            f"workload {path}: {getattr(cls, '__name__', cls)!r} is not a subclass of "
            "perfopt.Workload (docs/your-objective.md lists what it needs)"
        )
    return cls


def _check_path(name: str, path: str) -> None:
    module_name, sep, class_name = path.partition(":")
    if not (name and sep and module_name and class_name):
        raise UserError(f"workload entry {name}={path!r} must look like name=module.path:Class")


def _parse_env(text: str) -> Mapping[str, str]:
    entries: dict[str, str] = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        name, _, path = item.partition("=")
        _check_path(name.strip(), path.strip())
        entries[name.strip()] = path.strip()
    return entries
