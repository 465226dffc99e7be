"""One log line per finished trial with its stage timers (shown with `perfopt -v optimize`).

The objectives store the timers on each trial (user attribute `timers`); this module
also logs them as the trial ends, wherever the trial runs. The driver process logs
through the handlers `perfopt.cli` installs. A worker process (spawned or forkserver
trial workers, Dask workers) has no handler of its own; it gets the driver's Optuna
verbosity, so when that is INFO (the driver runs with -v) a stderr handler is added
here, once per process, and the worker's lines reach the same terminal.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Mapping

from perfopt.units import fmt_duration

log = logging.getLogger("perfopt.optimize.trials")
_ORDER = ("data", "signals", "returns", "metrics", "optuna")


def _ensure_handler() -> None:
    """Give a worker process a stderr handler when the driver asked for INFO (-v)."""
    if log.isEnabledFor(logging.INFO) and logging.getLogger().handlers:
        return  # the driver (or an embedding program) configured logging
    if getattr(_ensure_handler, "done", False):
        return
    import optuna

    if optuna.logging.get_verbosity() > logging.INFO:
        return
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    log.addHandler(handler)
    log.setLevel(logging.INFO)
    log.propagate = False
    _ensure_handler.done = True  # type: ignore[attr-defined]


def format_timers(number: int, timers: Mapping[str, float], state: str = "") -> str:
    """`trial 12: total 48.2 ms (data 1.20 ms, signals 10.3 ms, ...)`."""
    total = timers.get("total")
    parts = [f"{k} {fmt_duration(timers[k])}" for k in _ORDER if k in timers]
    parts += [f"{k} {fmt_duration(v)}" for k, v in timers.items() if k not in (*_ORDER, "total")]
    return f"trial {number}{' ' + state if state else ''}: total {fmt_duration(total)} ({', '.join(parts)})"


def log_trial_timers(number: int, timers: Mapping[str, float], state: str = "") -> None:
    """Log one trial's stage timers at INFO (visible with -v)."""
    _ensure_handler()
    if log.isEnabledFor(logging.INFO):
        log.info("%s", format_timers(number, timers, state))
