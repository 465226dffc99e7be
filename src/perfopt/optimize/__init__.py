"""The Optuna optimizer: daily and timeframe-grid studies, plans, storages, Dask.

Importing this package imports neither numpy nor optuna (worker processes unpickle
their arguments from here before their thread caps are set); `run_optimize` does.
"""

from __future__ import annotations

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
