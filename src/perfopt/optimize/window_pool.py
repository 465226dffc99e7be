"""The window pool of the daily task: bt_workers processes (or threads) that evaluate windows.

Each pool worker loads the panel and computes the windows' RSI once, then evaluates windows of any
trial (perfopt.optimize.evaluate). `pool_initializer` is the pool processes' entry
point: this module imports no numpy, so a spawned child caps its thread pools first.
"""

from __future__ import annotations

import multiprocessing
import signal
import time
from typing import Any

from perfopt.heap import set_heap
from perfopt.optimize._bootstrap import apply_caps, capped_environ, die_with_parent
from perfopt.optimize.config import OptimizeConfig, Window


def pool_initializer(cap: int | None, heap: str, evaluator_args: tuple[Any, ...]) -> None:
    """Initializer of a window pool process: caps, heap, no SIGINT (its owner stops it), data."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    die_with_parent(signal.SIGKILL)
    apply_caps(cap)
    set_heap(heap)
    from perfopt.optimize.evaluate import init_process_evaluator

    init_process_evaluator(*evaluator_args)


def open_window_pool(
    cfg: OptimizeConfig, windows: tuple[Window, ...], tickers: tuple[str, ...]
) -> tuple[Any, dict[str, Any]]:
    """Start bt_workers processes (or threads, --bt-pool thread) once, each with its data loaded."""
    evaluator_args = (cfg.data_dir, cfg.source, cfg.access, tickers, cfg.fee, windows)
    start = time.perf_counter()
    if cfg.bt_pool == "thread":
        return _open_window_threads(cfg, evaluator_args, start)
    ctx = multiprocessing.get_context(cfg.start_method)
    with capped_environ(cfg.thread_cap):
        pool = ctx.Pool(
            cfg.bt_workers,
            initializer=pool_initializer,
            initargs=(cfg.thread_cap, cfg.heap, evaluator_args),
        )
    return pool, _ready(pool, "processes", cfg.bt_workers, start)


def _open_window_threads(
    cfg: OptimizeConfig, evaluator_args: tuple[Any, ...], start: float
) -> tuple[Any, dict[str, Any]]:
    """bt_workers threads of this process, each with its own evaluator (own store handle).

    Threads share the process's memory and start in milliseconds, but run Python one
    at a time (the GIL); numpy's array operations release it.
    """
    from multiprocessing.pool import ThreadPool

    from perfopt.optimize.evaluate import init_thread_evaluator

    pool = ThreadPool(cfg.bt_workers, initializer=init_thread_evaluator, initargs=evaluator_args)
    return pool, _ready(pool, "threads", cfg.bt_workers, start)


def _ready(pool: Any, kind: str, n: int, start: float) -> dict[str, Any]:
    """Wait until the pool's workers answer; what the summary says about the pool.

    One task per worker is not guaranteed to reach every worker, but waiting for the
    answers guarantees the initializers ran in those that answered.
    """
    from perfopt.optimize.evaluate import pool_ready_task

    ready = pool.map(pool_ready_task, range(n), chunksize=1)
    return {
        kind: n,
        "ready_s": time.perf_counter() - start,
        "workers": {str(r["pid"]): r for r in ready},
    }
