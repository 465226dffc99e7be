"""The Optuna objective of a timeframe-grid study: one LTF/HTF pair of one symbol.

Each trial draws the parameters of `perfopt.intraday.search_space(signal, features)`,
backtests the whole bar history of the pair (prepared once per worker process) and
returns the Sharpe (or `total_return`), or (total_return, |max_drawdown|) with
--multi-objective. Stages timed per trial, with the daily objective's names so one
summary serves both: data (reaching the prepared arrays; the load itself is once per
worker, reported as `load_s`), signals (LTF signal and HTF filter), returns (the
fill/equity simulation), metrics (return, Sharpe, drawdown), total, optuna.

A NaN or infinite value follows --nan-policy like the daily objective: FAIL with
`fail_reason`, or the penalty (worst direction for each objective) with `penalized`.
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping
from typing import Any

from perfopt.optimize.objective import NonFiniteValue, OptunaClock
from perfopt.optimize.studies import mark_worker
from perfopt.optimize.trial_log import log_trial_timers


def suggest_params(trial: Any, space: Mapping[str, tuple]) -> dict[str, Any]:
    """Draw one value per search-space entry: ("int"|"float", low, high)."""
    params: dict[str, Any] = {}
    for name, (kind, low, high) in space.items():
        if kind == "int":
            params[name] = trial.suggest_int(name, int(low), int(high))
        else:
            params[name] = trial.suggest_float(name, float(low), float(high))
    return params


class IntradayObjective:
    """Callable objective for `study.optimize` over one prepared pair."""

    def __init__(
        self,
        pair: Any,
        signal: str,
        features: Mapping[str, bool],
        fee: float,
        slippage_bps: float,
        multi_objective: bool,
        objective: str = "sharpe",
        nan_policy: str = "fail",
        nan_penalty: float = -10.0,
    ) -> None:
        from perfopt.intraday import search_space

        self.pair = pair
        self.signal = signal
        self.features = dict(features)
        self.fee = float(fee)
        self.slippage_bps = float(slippage_bps)
        self.multi_objective = multi_objective
        self.objective = objective
        self.nan_policy = nan_policy
        self.nan_penalty = nan_penalty
        self.space = search_space(signal, self.features)

    def evaluate(self, params: Mapping[str, Any], timers: dict[str, float]) -> dict[str, float]:
        """Backtest one parameter set, adding each stage's seconds to `timers`."""
        import numpy as np

        from perfopt.intraday import DEFAULT_PARAMS, compiled_simulate
        from perfopt.intraday.strategy import equity_metrics, ltf_signals

        t0 = time.perf_counter()
        pair = self.pair
        p = {**DEFAULT_PARAMS, **params, "signal": self.signal}
        t1 = time.perf_counter()
        entry, exit_ = ltf_signals(pair, p, self.features, engine="numba")
        t2 = time.perf_counter()
        equity = np.empty(len(pair.close))
        n_trades, n_wins, held = compiled_simulate()(
            pair.open, pair.high, pair.low, pair.close, entry, exit_,
            self.features["useStop"], float(p["stop_pct"]),
            self.features["useTakeProfit"], float(p["take_profit_pct"]),
            self.fee, self.slippage_bps * 1e-4, equity,
        )  # fmt: skip
        t3 = time.perf_counter()
        metrics = equity_metrics(equity, pair.ltf_minutes)
        metrics.update(
            n_trades=int(n_trades),
            win_rate=n_wins / n_trades if n_trades else 0.0,
            exposure=held / len(equity) if len(equity) else 0.0,
            n_bars=len(equity),
        )
        t4 = time.perf_counter()
        for name, dt in (("data", t1 - t0), ("signals", t2 - t1), ("returns", t3 - t2),
                         ("metrics", t4 - t3)):  # fmt: skip
            timers[name] = timers.get(name, 0.0) + dt
        return metrics

    def __call__(self, trial: Any) -> float | tuple[float, float]:
        from perfopt.intraday import objective_values

        start = time.perf_counter()
        clock = OptunaClock()
        call = clock.call

        call(mark_worker, trial)
        params = call(suggest_params, trial, self.space)
        timers = dict.fromkeys(("data", "signals", "returns", "metrics"), 0.0)
        metrics = self.evaluate(params, timers)
        values = objective_values(metrics, self.multi_objective, self.objective)
        as_tuple = values if isinstance(values, tuple) else (values,)
        outcome: BaseException | None = None
        attrs: dict[str, Any] = {
            "metrics": {k: float(v) for k, v in metrics.items()},
        }
        if not all(math.isfinite(v) for v in as_tuple):
            reason = f"objective value(s) {as_tuple} not finite ({metrics['n_trades']} trades)"
            if self.nan_policy == "fail":
                attrs["fail_reason"] = reason
                outcome = NonFiniteValue(reason)
            else:
                attrs["penalized"] = reason
                # The penalty is the bad end of each direction: low return, large drawdown.
                values = (
                    (self.nan_penalty, abs(self.nan_penalty))
                    if self.multi_objective
                    else self.nan_penalty
                )
        total = time.perf_counter() - start - clock.seconds
        attrs["timers"] = {**timers, "total": total, "optuna": clock.seconds}
        for key, value in attrs.items():
            trial.set_user_attr(key, value)
        log_trial_timers(trial.number, attrs["timers"], "failed" if outcome is not None else "")
        if outcome is not None:
            raise outcome
        return values
