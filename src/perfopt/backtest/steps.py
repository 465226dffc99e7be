"""The steps of one backtest (kernels, universe, signals and simulation, metrics).

Shared by the single-process run (`engine.py`) and the sharded one (`sharding.py`), so
neither imports the other for them.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from perfopt.backtest.config import BacktestConfig
from perfopt.backtest.metrics import compute_metrics
from perfopt.backtest.result import BacktestResult, Trades
from perfopt.data.stores import PriceStore
from perfopt.stage_timer import StageTimer


@dataclass(frozen=True)
class Kernels:
    """What an engine provides: one fused pass, or an RSI function then a simulation.

    `fused(close, period, oversold, overbought, fee, sleeve_cash)` and
    `simulate(close, rsi, oversold, overbought, fee, sleeve_cash)` both return (equity,
    final sleeve equity, 7 trade arrays); an engine sets `fused` or `rsi` + `simulate`.
    """

    fused: Callable[..., tuple[np.ndarray, ...]] | None = None
    rsi: Callable[[np.ndarray, int], np.ndarray] | None = None
    simulate: Callable[..., tuple[np.ndarray, ...]] | None = None


def load_kernels(engine: str) -> tuple[Kernels, float]:
    """Return the engine's kernels and the seconds spent compiling or loading them."""
    if engine == "reference":
        from perfopt.backtest.reference import rsi_reference, simulate_reference

        return Kernels(rsi=rsi_reference, simulate=simulate_reference), 0.0
    start = time.perf_counter()
    from perfopt.backtest.fused import backtest_kernel

    # The first call compiles (or loads numba's on-disk cache): keep it out of the
    # steady-state stages and report it on its own.
    tiny = np.array([[1.0, 2.0], [2.0, np.nan], [1.5, 2.5]])
    backtest_kernel(tiny, 2, 30.0, 70.0, 0.001, 1.0)
    return Kernels(fused=backtest_kernel), time.perf_counter() - start


def simulate_close(
    close: np.ndarray, cfg: BacktestConfig, kernels: Kernels, sleeve_cash: float, timer: StageTimer
) -> tuple[np.ndarray, np.ndarray, tuple[np.ndarray, ...]]:
    """Run signals and simulation on a (dates x tickers) close array.

    A fused engine times one stage, "simulate", with the signals inside it; a two-step
    engine times "signals" and "simulate" apart.
    """
    if kernels.fused is not None:
        with timer.stage("simulate"):
            equity, final, *trades = kernels.fused(
                close, cfg.rsi_period, cfg.oversold, cfg.overbought, cfg.fee, sleeve_cash
            )
        return equity, final, tuple(trades)
    assert kernels.rsi is not None and kernels.simulate is not None
    with timer.stage("signals"):
        rsi = kernels.rsi(close, cfg.rsi_period)
    with timer.stage("simulate"):
        equity, final, *trades = kernels.simulate(
            close, rsi, cfg.oversold, cfg.overbought, cfg.fee, sleeve_cash
        )
    return equity, final, tuple(trades)


def universe(store: PriceStore, cfg: BacktestConfig) -> tuple[tuple[str, ...], np.ndarray]:
    """Return the tickers to trade and the calendar they trade on."""
    tickers = store.tickers() if cfg.tickers is None else store.check_tickers(cfg.tickers)
    if not tickers:
        raise_empty(store)
    return tickers, store.dates()


def raise_empty(store: PriceStore) -> None:
    """Refuse a store without tickers."""
    from perfopt.errors import UserError

    raise UserError(f"{store.path} holds no tickers: the universe is empty")


def finish(
    cfg: BacktestConfig,
    calendar: np.ndarray,
    tickers: Sequence[str],
    equity: np.ndarray,
    final: np.ndarray,
    trades: Trades,
    timer: StageTimer,
) -> BacktestResult:
    """Compute metrics and assemble the result."""
    with timer.stage("metrics"):
        pnl = trades.pnl(cfg.fee)
        metrics = compute_metrics(equity, len(trades), pnl[~np.isnan(pnl)])
    return BacktestResult(calendar, tuple(tickers), equity, final, trades, cfg.fee, metrics)
