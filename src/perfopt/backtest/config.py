"""Backtest settings, validated before any work starts."""

from __future__ import annotations

import multiprocessing
from dataclasses import dataclass, replace
from pathlib import Path

from perfopt.data.stores import ACCESS_MODES, SOURCES, resolve_data_dir
from perfopt.errors import UserError

ENGINES = ("reference", "numba")


@dataclass(frozen=True)
class BacktestConfig:
    """One backtest run: where the data is, how to read it, which engine, the strategy."""

    data_dir: Path
    source: str = "hdf5"
    access: str = "bulk"
    engine: str = "numba"
    workers: int = 1
    start_method: str = "spawn"
    rsi_period: int = 14
    oversold: float = 30.0
    overbought: float = 70.0
    fee: float = 0.001
    capital: float = 1_000_000.0
    tickers: tuple[str, ...] | None = None

    def validated(self) -> BacktestConfig:
        """Return a copy with an absolute data path, or raise UserError on bad input."""
        if self.source not in SOURCES:
            raise UserError(f"unknown --source {self.source!r}; choose one of {', '.join(SOURCES)}")
        if self.access not in ACCESS_MODES:
            raise UserError(
                f"unknown --access {self.access!r}; choose one of {', '.join(ACCESS_MODES)}"
            )
        if self.access == "naive" and self.source == "parquet":
            raise UserError(
                "--access naive needs point queries, which Parquet files lack; "
                "use --source sqlite or hdf5 with naive, or --access bulk"
            )
        if self.engine not in ENGINES:
            raise UserError(f"unknown --engine {self.engine!r}; choose one of {', '.join(ENGINES)}")
        if self.rsi_period < 2:
            raise UserError(f"--rsi-period must be at least 2, got {self.rsi_period}")
        if not 0 <= self.oversold < self.overbought <= 100:
            raise UserError(
                f"need 0 <= oversold < overbought <= 100, got --oversold {self.oversold} "
                f"--overbought {self.overbought}"
            )
        if not 0 <= self.fee < 1:
            raise UserError(f"--fee must be in [0, 1), got {self.fee}")
        if self.capital <= 0:
            raise UserError(f"--capital must be positive, got {self.capital}")
        if self.workers < 1:
            raise UserError(f"--workers must be at least 1, got {self.workers}")
        check_start_method(self.start_method)
        if self.tickers is not None and len(self.tickers) == 0:
            raise UserError("the ticker universe is empty; name at least one ticker with --tickers")
        return replace(self, data_dir=resolve_data_dir(self.data_dir))


def check_start_method(method: str) -> str:
    """Return method if this OS offers it, else raise UserError listing the ones it has."""
    available = multiprocessing.get_all_start_methods()
    if method not in available:
        raise UserError(
            f"start method {method!r} is not available on this OS; choose one of {', '.join(available)}"
        )
    return method
