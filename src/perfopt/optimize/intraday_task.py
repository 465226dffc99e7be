"""The intraday task: one LTF/HTF pair of one symbol, the trial of a timeframe-grid study.

Bars are loaded and resampled once per process; perfopt.intraday (numpy) is imported
where the task is built, so the task itself unpickles without numpy.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from perfopt.optimize.config import MULTI_DIRECTIONS, OptimizeConfig
from perfopt.optimize.tasks import TrialTask


@dataclass(frozen=True)
class IntradayTask(TrialTask):
    """One LTF/HTF pair of one symbol: bars loaded and resampled once per process."""

    data_dir: Path
    symbol: str
    ltf: str  # timeframe slugs ("1m", "1h"): parsing them needs no numpy
    htf: str
    signal: str = "rsi"
    features: tuple[tuple[str, bool], ...] = ()
    fee: float = 0.0004
    slippage_bps: float = 1.0
    multi_objective: bool = False
    objective: str = "sharpe"
    nan_policy: str = "fail"
    nan_penalty: float = -10.0
    directions: tuple[str, ...] = field(default=("maximize",))

    @classmethod
    def make(cls, **kwargs: Any) -> IntradayTask:
        """Build with directions that follow multi_objective."""
        feats = kwargs.pop("features", {})
        items = tuple(sorted(dict(feats).items()))
        multi = bool(kwargs.get("multi_objective", False))
        directions = MULTI_DIRECTIONS if multi else ("maximize",)
        return cls(features=items, directions=directions, **kwargs)

    @property
    def label(self) -> str:
        """symbol ltf@htf."""
        return f"{self.symbol} {self.ltf}@{self.htf}"

    @property
    def n_steps(self) -> int:
        """The whole history is one step."""
        return 1

    def fingerprint(self) -> dict[str, Any]:
        """Data, pair, signal, switches, costs, objective."""
        return {
            "data_dir": str(self.data_dir),
            "symbol": self.symbol,
            "ltf": self.ltf,
            "htf": self.htf,
            "signal": self.signal,
            "features": dict(self.features),
            "fee": self.fee,
            "slippage_bps": self.slippage_bps,
            "objective": "return,|drawdown|" if self.multi_objective else self.objective,
            "nan_policy": self.nan_policy,
        }

    def prepare(self) -> tuple[Any, float]:
        """(PairData, seconds): load base bars, resample to LTF and HTF, map HTF to LTF."""
        from perfopt.intraday import load_bars, prepare_pair, resample

        start = time.perf_counter()
        bars = load_bars(self.data_dir, self.symbol, "1min")
        pair = prepare_pair(resample(bars, self.ltf), resample(bars, self.htf))
        return pair, time.perf_counter() - start

    def build(self, cfg: OptimizeConfig, pool: Any = None) -> tuple[Any, dict[str, Any]]:
        """The pair objective with its data prepared and numba compiled (or loaded)."""
        from perfopt.optimize.intraday_objective import IntradayObjective

        pair, load_s = self.prepare()
        objective = IntradayObjective(
            pair, self.signal, dict(self.features), self.fee, self.slippage_bps,
            self.multi_objective, self.objective, self.nan_policy, self.nan_penalty,
        )  # fmt: skip
        start = time.perf_counter()
        from perfopt.intraday import DEFAULT_PARAMS

        objective.evaluate(DEFAULT_PARAMS, {})  # compiles or loads the numba kernels
        return objective, {"load_s": load_s, "warmup_s": time.perf_counter() - start}
