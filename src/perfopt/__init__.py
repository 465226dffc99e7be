"""perfopt: find where an optimization pipeline's time goes, fix it, and prove the fix.

`import perfopt` stays light: it imports no torch, numba or optuna. The heavy parts live
in subpackages (`perfopt.backtest`, `perfopt.optimize`, `perfopt.harness`, ...) and are
imported when used.
"""

from __future__ import annotations

from perfopt.errors import PerfoptError, UserError

__version__ = "0.1.0"

__all__ = ["PerfoptError", "UserError", "__version__"]
