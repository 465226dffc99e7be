"""The daily task: the monthly cross-sectional strategy evaluated over CV windows.

Picklable without numpy (a worker unpickles it before its thread caps are set): the
evaluator and the objective, which load numpy, are imported where they are built.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from perfopt.optimize.config import OptimizeConfig, Window
from perfopt.optimize.tasks import TrialTask
from perfopt.optimize.window_pool import open_window_pool


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
        """bt_workers processes, each with the panel loaded and the windows' RSI computed."""
        return open_window_pool(cfg, self.windows, self.tickers)

    def build(self, cfg: OptimizeConfig, pool: Any = None) -> tuple[Any, dict[str, Any]]:
        """The window objective, evaluating in this process unless a pool is given."""
        objective, evaluator = build_objective(cfg, self.windows, self.tickers, pool)
        info = {
            "load_s": evaluator.load_s if evaluator else None,
            "warmup_s": evaluator.warmup_s if evaluator else None,
        }
        return objective, info


def build_objective(
    cfg: OptimizeConfig, windows: tuple[Window, ...], tickers: tuple[str, ...], pool: Any
) -> tuple[Any, Any]:
    """Return (objective, evaluator or None): in-process windows unless a pool is given."""
    from perfopt.optimize.evaluate import init_process_evaluator
    from perfopt.optimize.objective import Objective

    evaluator = None
    if pool is None:
        evaluator = init_process_evaluator(
            cfg.data_dir, cfg.source, cfg.access, tickers, cfg.fee, windows
        )
    objective = Objective(
        windows,
        cfg.space,
        len(tickers),
        cfg.nan_policy,
        cfg.nan_penalty,
        evaluator,
        pool,
        prune=cfg.pruner != "none",
    )
    return objective, evaluator
