"""`perfopt advise`: probe a user's objective briefly and recommend a parallel plan.

`probe.run_probes` measures (one trial's time and where it goes, Optuna's cost per
trial on candidate storages, worker start-up per start method, throughput with 1 and
2 worker processes and 2 threads, interleaved); `plan.recommend_plan` turns those
measurements into choices, each with the measured reason. Importing this package
imports neither numpy nor optuna.
"""

from __future__ import annotations

from typing import Any

__all__ = ["advise", "format_advice"]


def advise(*args: Any, **kwargs: Any) -> Any:
    """Probe and recommend (see perfopt.advise.plan.advise)."""
    from perfopt.advise.plan import advise as _advise

    return _advise(*args, **kwargs)


def format_advice(advice: Any) -> str:
    """The advice as text (see perfopt.advise.plan.format_advice)."""
    from perfopt.advise.plan import format_advice as _format

    return _format(advice)
