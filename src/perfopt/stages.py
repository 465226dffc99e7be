"""`stage(name)`: time a block of a user's own objective under perfopt.

    from perfopt import stage

    def objective(trial):
        with stage("data"):
            X, y = load()
        with stage("fit"):
            ...

Outside a perfopt run (no timer active in this thread or task) `stage` returns a shared
do-nothing context manager, so the line costs a function call and a context-variable
read. Under `perfopt optimize --objective` each trial activates a `StageTimer`
(perfopt.profiling) for its duration; the stage totals land in the trial's user
attribute `timers` beside `total` and `optuna`, and in the run summary (sums,
percentiles, IO ratio = stage "data" / total). The timer is per thread (a context
variable), so Optuna's thread mode keeps trials apart; threads the objective starts
itself do not inherit it and their stages are not recorded. Entering a stage is also
where a run that was asked to stop (Ctrl-C) ends the current trial.
"""

from __future__ import annotations

from collections.abc import Callable
from contextvars import ContextVar
from typing import Any

_TIMER: ContextVar[Any] = ContextVar("perfopt_stage_timer", default=None)


class _NoStage:
    """The do-nothing context manager `stage` returns outside a perfopt run."""

    __slots__ = ()

    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> None:
        return None


_NO_STAGE = _NoStage()


def stage(name: str) -> Any:
    """Context manager timing its block as stage `name` of the running trial (else a no-op)."""
    active = _TIMER.get()
    if active is None:
        return _NO_STAGE
    timer, check = active
    if check is not None:
        check()  # a stage boundary is where a run asked to stop (Ctrl-C) ends the trial
    return timer.stage(name)


def activate(timer: Any, check: Callable[[], None] | None = None) -> Any:
    """Make `timer` receive `stage` blocks in this context; returns a token for `deactivate`.

    `check`, when given, runs as each stage starts (it may raise to end the trial).
    """
    return _TIMER.set((timer, check))


def deactivate(token: Any) -> None:
    """Undo `activate`."""
    _TIMER.reset(token)
