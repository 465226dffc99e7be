"""Split tickers across worker processes and merge their sleeves.

Tickers are independent sleeves, so each worker backtests a contiguous slice of the
universe on the parent's calendar, with the parent's sleeve size (capital divided by
the whole universe, not by the slice). The merge sums equity by date, concatenates
trades in ticker order and recomputes metrics from the merged curve.
"""

from __future__ import annotations

import multiprocessing
import os
import time
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import replace
from typing import Any

import numpy as np

from perfopt.backtest.config import BacktestConfig
from perfopt.backtest.result import BacktestResult, Trades
from perfopt.backtest.steps import finish, load_kernels, simulate_close, universe
from perfopt.data.stores import open_store
from perfopt.errors import PerfoptError
from perfopt.stage_timer import StageTimer


def split_evenly(n_items: int, n_parts: int) -> list[tuple[int, int]]:
    """Return [start, stop) bounds of up to n_parts contiguous, near-equal slices."""
    n_parts = max(1, min(n_parts, n_items))
    bounds = np.linspace(0, n_items, n_parts + 1).round().astype(int)
    return [(int(a), int(b)) for a, b in zip(bounds[:-1], bounds[1:], strict=True)]


_START: Any = None  # this worker's barrier: every shard starts in a process of its own
START_TIMEOUT_S = 300.0


def _join(barrier: Any) -> None:
    """Pool initializer: keep the shared start barrier."""
    global _START
    _START = barrier


def _run_shard(task: dict[str, Any]) -> dict[str, Any]:
    """Worker entry point: backtest one slice of tickers; return raw arrays and timings."""
    started = time.time()
    # A pool hands queued tasks to whichever worker is free: a quick shard would let one
    # process take two while another sits idle. Waiting here until every shard has a
    # worker gives each its own process, all running at once.
    _START.wait(START_TIMEOUT_S)
    cfg: BacktestConfig = task["config"]
    timer = StageTimer()
    kernels, compile_s = load_kernels(cfg.engine)
    with timer.stage("load"):
        store = open_store(cfg.data_dir, cfg.source)
        try:
            close = store.load("close", task["tickers"], task["calendar"], cfg.access)
        finally:
            store.close_handle()
    equity, final, raw = simulate_close(close, cfg, kernels, task["sleeve_cash"], timer)
    return {
        "equity": equity,
        "final": final,
        "trades": raw,
        "stages": timer.as_dict(),
        "compile_s": compile_s,
        "pid": os.getpid(),
        "started_at": started,
    }


def run_sharded(cfg: BacktestConfig) -> BacktestResult:
    """Run the backtest over `cfg.workers` processes with `cfg.start_method`."""
    timer = StageTimer()
    # Compile (or load numba's cache) in the parent, outside the timed total: forked
    # workers inherit the compiled kernels; spawned ones load the cache themselves,
    # which is part of what spawn costs, and report it per worker.
    _, parent_compile_s = load_kernels(cfg.engine)
    start = time.perf_counter()
    store = open_store(cfg.data_dir, cfg.source)
    try:
        tickers, calendar = universe(store, cfg)
    finally:
        store.close_handle()
    sleeve_cash = cfg.capital / len(tickers)
    slices = split_evenly(len(tickers), cfg.workers)
    # cfg.data_dir is already absolute (validated), so a spawned worker started from any
    # working directory reads the same files.
    worker_cfg = replace(cfg, tickers=None, workers=1)
    tasks = [
        {
            "config": worker_cfg,
            "tickers": tickers[a:b],
            "calendar": calendar,
            "sleeve_cash": sleeve_cash,
        }
        for a, b in slices
    ]
    context = multiprocessing.get_context(cfg.start_method)
    submitted = time.time()
    try:
        with (
            timer.stage("shards"),
            ProcessPoolExecutor(
                len(tasks),
                mp_context=context,
                initializer=_join,
                initargs=(context.Barrier(len(tasks)),),
            ) as pool,
        ):
            parts = list(pool.map(_run_shard, tasks))
    except BrokenProcessPool as exc:
        raise PerfoptError(
            f"a backtest worker ({cfg.start_method}) died before returning its shard: {exc}; "
            "its stderr above says why"
        ) from exc
    with timer.stage("merge"):
        equity = np.sum([p["equity"] for p in parts], axis=0)
        final = np.concatenate([p["final"] for p in parts])
        trades = Trades.concat(
            [Trades.from_arrays(p["trades"], a) for p, (a, _) in zip(parts, slices, strict=True)]
        )
    result = finish(cfg, calendar, tickers, equity, final, trades, timer)
    stages = timer.as_dict()
    # The per-stage figures of a sharded run are the slowest worker's: that is the one
    # the parent waits for.
    for name in ("load", "signals", "simulate"):
        if any(name in p["stages"] for p in parts):  # a fused engine has no "signals"
            stages[name] = max(p["stages"].get(name, 0.0) for p in parts)
    # What sharding costs before any work: process start and, under spawn/forkserver,
    # the numba cache load in every worker.
    stages["worker_start"] = max(p["started_at"] - submitted for p in parts)
    stages["worker_compile"] = max(p["compile_s"] for p in parts)
    stages["total"] = time.perf_counter() - start
    result.stages = stages
    result.info = {
        "engine": cfg.engine,
        "source": cfg.source,
        "access": cfg.access,
        "workers": len(tasks),
        "start_method": cfg.start_method,
        "compile_s": parent_compile_s,
        "worker_compile_s": [round(p["compile_s"], 4) for p in parts],
        "worker_startup_s": [round(p["started_at"] - submitted, 4) for p in parts],
        "worker_pids": [p["pid"] for p in parts],
        "wall_s": stages["total"],
    }
    return result
