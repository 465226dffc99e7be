"""Run a backtest: load, signals, simulate, metrics, each stage timed.

`run_backtest` is the one entry point; with `workers > 1` it shards tickers across
processes (`sharding.py`) and merges. Engines differ only in their kernels: numba runs
the fused one-pass kernel (`fused.py`), reference the Python RSI and simulation loops.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from perfopt.backtest.config import BacktestConfig
from perfopt.backtest.metrics import compute_metrics
from perfopt.backtest.result import BacktestResult, Trades
from perfopt.data.stores import PriceStore, open_store
from perfopt.profiling import StageTimer


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


def run_backtest(config: BacktestConfig) -> BacktestResult:
    """Run one backtest as configured and return equity, trades, metrics and timings."""
    cfg = config.validated()
    if cfg.workers > 1:
        from perfopt.backtest.sharding import run_sharded

        return run_sharded(cfg)
    start = time.perf_counter()
    timer = StageTimer()
    kernels, compile_s = load_kernels(cfg.engine)
    timed_start = time.perf_counter()
    with timer.stage("load"):
        store = open_store(cfg.data_dir, cfg.source)
        try:
            tickers, calendar = universe(store, cfg)
            close = store.load("close", tickers, calendar, cfg.access)
        finally:
            store.close_handle()
    if len(calendar) < 2:
        from perfopt.errors import UserError

        raise UserError(f"{store.path} holds {len(calendar)} date(s); a backtest needs at least 2")
    equity, final, raw = simulate_close(close, cfg, kernels, cfg.capital / len(tickers), timer)
    result = finish(cfg, calendar, tickers, equity, final, Trades.from_arrays(raw), timer)
    result.stages = timer.as_dict()
    result.stages["total"] = time.perf_counter() - timed_start
    result.info = {
        "engine": cfg.engine,
        "source": cfg.source,
        "access": cfg.access,
        "workers": 1,
        "compile_s": compile_s,
        "wall_s": time.perf_counter() - start,
        "pid": os.getpid(),
    }
    return result
