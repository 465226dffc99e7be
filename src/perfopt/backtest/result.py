"""Backtest results: equity curve, trades, metrics, timings; CSV and JSON forms."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

TRADE_FIELDS = ("col", "entry", "entry_px", "exit", "exit_px", "shares", "cost")


@dataclass
class Trades:
    """Round trips as parallel arrays, sorted by ticker column then entry row."""

    col: np.ndarray
    entry: np.ndarray
    entry_px: np.ndarray
    exit: np.ndarray
    exit_px: np.ndarray
    shares: np.ndarray
    cost: np.ndarray

    @classmethod
    def from_arrays(cls, arrays: tuple[np.ndarray, ...], col_offset: int = 0) -> Trades:
        """Build from kernel outputs (in time order), shifting columns by col_offset."""
        trades = cls(*arrays)
        trades.col = trades.col + col_offset
        order = np.lexsort((trades.entry, trades.col))
        return cls(*(getattr(trades, name)[order] for name in TRADE_FIELDS))

    @classmethod
    def concat(cls, parts: list[Trades]) -> Trades:
        """Concatenate trade lists (already in ticker order)."""
        return cls(*(np.concatenate([getattr(p, name) for p in parts]) for name in TRADE_FIELDS))

    def __len__(self) -> int:
        return len(self.col)

    def pnl(self, fee: float) -> np.ndarray:
        """Realized pnl of each round trip; NaN while the position is open."""
        proceeds = self.shares * self.exit_px * (1.0 - fee)
        return np.where(self.exit >= 0, proceeds - self.cost, np.nan)


@dataclass
class BacktestResult:
    """Everything one backtest produced."""

    dates: np.ndarray
    tickers: tuple[str, ...]
    equity: np.ndarray
    sleeve_final: np.ndarray
    trades: Trades
    fee: float
    metrics: dict[str, float] = field(default_factory=dict)
    stages: dict[str, float] = field(default_factory=dict)
    info: dict[str, Any] = field(default_factory=dict)

    def equity_frame(self) -> pd.DataFrame:
        """Return the portfolio equity curve as a date,equity table."""
        return pd.DataFrame(
            {"date": np.datetime_as_string(self.dates, unit="D"), "equity": self.equity}
        )

    def trades_frame(self) -> pd.DataFrame:
        """Return trades as ticker,entry_date,entry_price,exit_date,exit_price,shares,pnl."""
        t = self.trades
        day = np.datetime_as_string(self.dates, unit="D")
        is_open = t.exit < 0
        return pd.DataFrame(
            {
                "ticker": np.asarray(self.tickers, dtype=object)[t.col],
                "entry_date": day[t.entry],
                "entry_price": t.entry_px,
                "exit_date": np.where(is_open, "", day[np.where(is_open, 0, t.exit)]),
                "exit_price": t.exit_px,
                "shares": t.shares,
                "pnl": t.pnl(self.fee),
            }
        )

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-serializable dict with metrics, timings, curve and trades."""
        trades = self.trades_frame().astype(object)
        trades = trades.where(pd.notna(trades), None)
        return {
            "metrics": {k: _json_number(v) for k, v in self.metrics.items()},
            "stages": self.stages,
            "info": self.info,
            "n_dates": len(self.dates),
            "n_tickers": len(self.tickers),
            "equity": self.equity_frame().to_dict(orient="list"),
            "trades": trades.to_dict(orient="records"),
        }

    def write_json(self, path: Path) -> None:
        """Write to_dict() as JSON (NaN written as null)."""
        path.write_text(json.dumps(self.to_dict(), indent=1) + "\n")


def _json_number(value: float) -> float | None:
    return None if isinstance(value, float) and not math.isfinite(value) else value
