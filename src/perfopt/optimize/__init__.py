"""The Optuna optimizer: strategy, objective, CV windows, parallel plans, storages.

Importing this package imports neither numpy nor optuna (worker processes unpickle
their arguments from here before their thread caps are set); `run_optimize` does.
"""

from __future__ import annotations

from typing import Any

from perfopt.optimize.config import (
    ACCESS,
    CV_KINDS,
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
from perfopt.optimize.storages import StorageSpec, resolve_storage

__all__ = [
    "ACCESS",
    "CV_KINDS",
    "MODES",
    "NAN_POLICIES",
    "PRUNERS",
    "SAMPLERS",
    "START_METHODS",
    "OptimizeConfig",
    "SearchSpace",
    "StorageSpec",
    "Window",
    "format_summary",
    "physical_cores",
    "resolve_storage",
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
