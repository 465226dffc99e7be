"""The Optuna objective: suggest parameters, evaluate every window, time the stages.

Trial value: the mean over windows of each window's annualized Sharpe; each window's
value is reported as an intermediate step (step = window index) so pruners can stop a
trial early (skipped under --pruner none: each report is a storage write). A NaN or infinite window value never reaches the sampler: under
`--nan-policy fail` the trial ends FAIL with the reason in user attribute `fail_reason`;
under `penalty` it takes `--nan-penalty` and records why in `penalized`.

User attributes of every trial: `worker_pid` and `worker_host` (set first, so a dead worker's trial can
be found), `timers` {data, signals, returns, metrics, total, optuna} in seconds and
`windows` (per-window values). `total` is the objective's own time without the Optuna
calls it makes (suggest, report, should_prune, user attributes), which are `optuna`:
the run's storage overhead is measured as everything outside `total`.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable, Sequence
from typing import Any

from perfopt.optimize._bootstrap import Interrupted, check_stop
from perfopt.optimize.config import SearchSpace, Window
from perfopt.optimize.evaluate import WindowEvaluator, evaluate_window_task
from perfopt.optimize.strategy import StrategyParams
from perfopt.optimize.studies import mark_worker
from perfopt.optimize.trial_log import log_trial_timers
from perfopt.stage_timer import StageTimer

STAGES = ("data", "signals", "returns", "metrics")



class OptunaClock:
    """Seconds a trial spends inside Optuna calls, kept out of its own stage timers."""

    def __init__(self) -> None:
        self.seconds = 0.0

    def call(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """Call fn(*args, **kwargs), adding its duration to `seconds`."""
        start = time.perf_counter()
        try:
            return fn(*args, **kwargs)
        finally:
            self.seconds += time.perf_counter() - start

def _state_word(outcome: BaseException | None) -> str:
    """How a trial ends, for its log line."""
    if outcome is None:
        return ""
    if isinstance(outcome, NonFiniteValue):
        return "failed"
    if isinstance(outcome, Interrupted):
        return "interrupted"
    return "pruned"


class NonFiniteValue(Exception):  # noqa: N818 - reads as what happened
    """A window's value was NaN or infinite under --nan-policy fail (trial ends FAIL)."""


def suggest(trial: Any, space: SearchSpace, n_tickers: int) -> dict[str, Any]:
    """Draw one parameter set (top_k capped at the universe size)."""
    k_high = max(1, min(space.top_k[1], n_tickers))
    k_low = min(space.top_k[0], k_high)
    return {
        "lookback": trial.suggest_int("lookback", *space.lookback),
        "vol_window": trial.suggest_int("vol_window", *space.vol_window),
        "w_mom": trial.suggest_float("w_mom", *space.w_mom),
        "w_vol": trial.suggest_float("w_vol", *space.w_vol),
        "w_rsi": trial.suggest_float("w_rsi", *space.w_rsi),
        "top_k": trial.suggest_int("top_k", k_low, k_high),
    }


class Objective:
    """Callable objective for `study.optimize`; windows run in-process or on a pool.

    `pool` is a multiprocessing Pool whose workers ran `pool_initializer` (backtest and
    hybrid modes), or None to evaluate windows in this process with `evaluator`.
    """

    def __init__(
        self,
        windows: Sequence[Window],
        space: SearchSpace,
        n_tickers: int,
        nan_policy: str,
        nan_penalty: float,
        evaluator: WindowEvaluator | None = None,
        pool: Any = None,
        prune: bool = True,
    ) -> None:
        if (evaluator is None) == (pool is None):
            raise ValueError("give exactly one of evaluator and pool")
        self.windows = tuple(windows)
        self.space = space
        self.n_tickers = n_tickers
        self.nan_policy = nan_policy
        self.nan_penalty = nan_penalty
        self.evaluator = evaluator
        self.pool = pool
        self.prune = prune

    def _window_results(self, params: dict[str, Any]) -> Any:
        """Yield each window's result dict in window order."""
        if self.pool is not None:
            # imap keeps window order, so intermediate values arrive step by step.
            yield from self.pool.imap(
                evaluate_window_task, [(i, params) for i in range(len(self.windows))]
            )
            return
        assert self.evaluator is not None
        sp = StrategyParams.from_dict(params)
        for window in self.windows:
            check_stop()
            timer = StageTimer()
            value, months = self.evaluator.evaluate(window, sp, timer)
            yield {"value": value, "months": months, "stages": timer.as_dict(), "pid": os.getpid()}

    def __call__(self, trial: Any) -> float:
        import optuna

        start = time.perf_counter()
        clock = OptunaClock()
        call = clock.call

        call(mark_worker, trial)
        params = call(suggest, trial, self.space, self.n_tickers)
        stages = dict.fromkeys(STAGES, 0.0)
        values: list[float] = []
        outcome: BaseException | None = None
        result = math.nan
        try:
            for step, res in enumerate(self._window_results(params)):
                for name in STAGES:
                    stages[name] += res["stages"].get(name, 0.0)
                value = float(res["value"])
                values.append(value)
                if not math.isfinite(value):
                    break
                if not self.prune:
                    continue
                # Reports are storage writes: only worth paying for when a pruner reads them.
                call(trial.report, value, step)
                if call(trial.should_prune):
                    outcome = optuna.TrialPruned(f"pruned after window {self.windows[step].label}")
                    break
                if self.pool is not None:
                    check_stop()
            else:
                result = sum(values) / len(values)
        except Interrupted as exc:
            outcome = exc
        total = time.perf_counter() - start - clock.seconds
        attrs: dict[str, Any] = {
            "timers": {**stages, "total": total, "optuna": clock.seconds},
            "windows": {self.windows[i].label: v for i, v in enumerate(values)},
        }
        if values and not math.isfinite(values[-1]) and outcome is None:
            label = self.windows[len(values) - 1].label
            reason = f"window {label}: Sharpe is {values[-1]} (flat or empty monthly returns)"
            if self.nan_policy == "fail":
                attrs["fail_reason"] = reason
                outcome = NonFiniteValue(reason)
            else:
                attrs["penalized"] = reason
                result = self.nan_penalty
        if isinstance(outcome, Interrupted):
            attrs["interrupted"] = True
        for key, value in attrs.items():
            trial.set_user_attr(key, value)
        log_trial_timers(trial.number, attrs["timers"], _state_word(outcome))
        if outcome is not None:
            raise outcome
        return result
