"""What a trial evaluates, behind one small interface the plans and executors share.

A `TrialTask` is a picklable description (no numpy at import: worker processes
unpickle it before their thread caps are set) that builds the Optuna objective in the
process that runs trials. The plans (in-process, trial worker processes) and the Dask
executor know only this interface:

- `directions`: Optuna directions of the study ("maximize", ...).
- `n_steps`: intermediate steps a trial reports (pruners size their rungs from it).
- `fingerprint()`: what makes trial values comparable; a resumed study must match.
- `build(cfg, pool)`: (objective, info) in this process; info holds `load_s` and
  `warmup_s`. `pool` is a window pool from `open_pool` (daily backtest/hybrid modes)
  or None.
- `label`: a short name for logs and summaries.

Two tasks: `DailyTask` (the monthly cross-sectional strategy over CV windows) and
`IntradayTask` (one LTF/HTF pair of one symbol, timeframe-grid studies).
"""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from perfopt.optimize.config import OptimizeConfig, Window


class TrialTask(ABC):
    """Builds the objective of a study in the process that runs its trials."""

    directions: tuple[str, ...] = ("maximize",)
    supports_pool: bool = False

    @property
    @abstractmethod
    def label(self) -> str:
        """Short name for logs and summaries."""

    @property
    @abstractmethod
    def n_steps(self) -> int:
        """Intermediate steps each trial reports."""

    @abstractmethod
    def fingerprint(self) -> dict[str, Any]:
        """Settings that make trial values comparable (stored on the study)."""

    @abstractmethod
    def build(self, cfg: OptimizeConfig, pool: Any = None) -> tuple[Any, dict[str, Any]]:
        """Return (objective, {"load_s", "warmup_s"}) built in this process."""

    def open_pool(self, cfg: OptimizeConfig) -> tuple[Any, dict[str, Any]]:
        """Start a pool that runs parts of a trial (tasks that support it only)."""
        raise NotImplementedError(f"{self.label} runs each trial in one process")


@dataclass(frozen=True)
class DailyTask(TrialTask):
    """The monthly cross-sectional strategy evaluated over CV windows."""

    cfg: OptimizeConfig
    windows: tuple[Window, ...]
    tickers: tuple[str, ...]
    supports_pool = True

    @property
    def label(self) -> str:
        """Data folder and window count."""
        return f"daily {self.cfg.data_dir.name} ({len(self.windows)} windows)"

    @property
    def n_steps(self) -> int:
        """One step per window."""
        return len(self.windows)

    def fingerprint(self) -> dict[str, Any]:
        """Data, universe, dates, windows, fee, NaN policy."""
        cfg = self.cfg
        return {
            "data_dir": str(cfg.data_dir),
            "tickers": len(self.tickers),
            "start": cfg.start,
            "end": cfg.end,
            "cv": cfg.cv
            if cfg.cv == "walk-forward"
            else f"{cfg.cv}:{cfg.cv_folds}:{cfg.embargo_months}",
            "fee": cfg.fee,
            "nan_policy": cfg.nan_policy,
        }

    def open_pool(self, cfg: OptimizeConfig) -> tuple[Any, dict[str, Any]]:
        """bt_workers processes, each with the panel loaded and numba warm."""
        from perfopt.optimize.plans import open_window_pool

        return open_window_pool(cfg, self.windows, self.tickers)

    def build(self, cfg: OptimizeConfig, pool: Any = None) -> tuple[Any, dict[str, Any]]:
        """The window objective, evaluating in this process unless a pool is given."""
        from perfopt.optimize.workers import build_objective

        objective, evaluator = build_objective(cfg, self.windows, self.tickers, pool)
        info = {
            "load_s": evaluator.load_s if evaluator else None,
            "warmup_s": evaluator.warmup_s if evaluator else None,
        }
        return objective, info


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
        from perfopt.optimize.config import MULTI_DIRECTIONS

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
