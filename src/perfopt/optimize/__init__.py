"""The Optuna optimizer: daily and timeframe-grid studies, plans, storages, Dask.

Importing this package imports neither numpy nor optuna (worker processes unpickle
their arguments from here before their thread caps are set); `run_optimize` does.

The package is callable: `perfopt.optimize(objective, n_trials=..., ...)` is
`perfopt.optimize.public.optimize` (a user's own objective; returns the optuna.Study).
A function of that name beside this package would be shadowed by the package itself
once imported, so the package's module object takes the call.
"""

from __future__ import annotations

import sys
import types
from typing import Any

from perfopt.optimize.config import (
    ACCESS,
    CV_KINDS,
    EXECUTORS,
    MODES,
    NAN_POLICIES,
    PRUNERS,
    SAMPLERS,
    START_METHODS,
    OptimizeConfig,
    SearchSpace,
    Window,
    physical_cores,
)
from perfopt.optimize.grid import GridConfig
from perfopt.optimize.storages import StorageSpec, resolve_storage

__all__ = [
    "ACCESS",
    "CV_KINDS",
    "EXECUTORS",
    "MODES",
    "NAN_POLICIES",
    "PRUNERS",
    "SAMPLERS",
    "START_METHODS",
    "GridConfig",
    "OptimizeConfig",
    "SearchSpace",
    "StorageSpec",
    "Window",
    "format_grid_summary",
    "format_summary",
    "optimize",
    "physical_cores",
    "resolve_storage",
    "run_grid",
    "run_optimize",
]


def run_optimize(*args: Any, **kwargs: Any) -> dict[str, Any]:
    """Run or resume a study (see perfopt.optimize.api.run_optimize)."""
    from perfopt.optimize.api import run_optimize as _run

    return _run(*args, **kwargs)


def format_summary(summary: dict[str, Any]) -> str:
    """Human-readable lines of a run summary (see perfopt.optimize.summary)."""
    from perfopt.optimize.summary import format_summary as _format

    return _format(summary)


def run_grid(*args: Any, **kwargs: Any) -> dict[str, Any]:
    """Run one study per LTF@HTF pair and compare them (see perfopt.optimize.grid.run_grid)."""
    from perfopt.optimize.grid import run_grid as _run

    return _run(*args, **kwargs)


def format_grid_summary(grid: dict[str, Any]) -> str:
    """The grid comparison table as text (see perfopt.optimize.grid)."""
    from perfopt.optimize.grid import format_grid_summary as _format

    return _format(grid)


def optimize(objective: Any, *args: Any, **kwargs: Any) -> Any:
    """Run a user's objective with perfopt's plans (see perfopt.optimize.public.optimize)."""
    from perfopt.optimize.public import optimize as _optimize

    return _optimize(objective, *args, **kwargs)


class _CallableModule(types.ModuleType):
    """This package's module type: calling it calls `optimize`."""

    def __call__(self, objective: Any, *args: Any, **kwargs: Any) -> Any:
        return optimize(objective, *args, **kwargs)


sys.modules[__name__].__class__ = _CallableModule
