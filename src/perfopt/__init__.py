"""perfopt: find where an optimization pipeline's time goes, fix it, and prove the fix.

`import perfopt` stays light: it imports no torch, numba or optuna. The heavy parts live
in subpackages (`perfopt.backtest`, `perfopt.optimize`, `perfopt.harness`, ...) and are
imported when used.

Public API for a user's own objective and workload (docs/your-objective.md):
`perfopt.optimize(objective, n_trials=..., n_jobs=..., storage=...)` returns an
`optuna.Study`; `perfopt.stage("name")` times a block of the objective;
`perfopt.Workload` and `perfopt.Measurement` are the interface of a matrix workload.
"""

from __future__ import annotations

from typing import Any

from perfopt.errors import PerfoptError, UserError
from perfopt.stages import stage
from perfopt.workload import Measurement, Workload

__version__ = "0.1.0"

__all__ = [
    "Measurement",
    "PerfoptError",
    "UserError",
    "Workload",
    "__version__",
    "optimize",
    "stage",
]


def __getattr__(name: str) -> Any:
    # `perfopt.optimize` is the subpackage, made callable (perfopt.optimize.__init__); it
    # is imported on first use so `import perfopt` stays light.
    if name == "optimize":
        import importlib

        return importlib.import_module("perfopt.optimize")
    raise AttributeError(f"module 'perfopt' has no attribute {name!r}")
