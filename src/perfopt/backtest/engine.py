"""Run a backtest: load, signals, simulate, metrics, each stage timed.

`run_backtest` is the one entry point; with `workers > 1` it shards tickers across
processes (`sharding.py`) and merges. Engines differ only in their kernels: numba runs
the fused one-pass kernel (`fused.py`), reference the Python RSI and simulation loops.
"""

from __future__ import annotations

import os
import time

from perfopt.backtest.config import BacktestConfig
from perfopt.backtest.result import BacktestResult, Trades
from perfopt.backtest.steps import finish, load_kernels, simulate_close, universe
from perfopt.data.stores import open_store
from perfopt.stage_timer import StageTimer


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
