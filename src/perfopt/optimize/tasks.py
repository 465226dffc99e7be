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

Tasks: `DailyTask` (perfopt.optimize.daily_task: the monthly cross-sectional strategy
over CV windows), `IntradayTask` (perfopt.optimize.intraday_task: one LTF/HTF pair of
one symbol, timeframe-grid studies) and `UserTask` (perfopt.optimize.user_objective: a
user's own objective).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any

from perfopt.optimize.config import OptimizeConfig


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
