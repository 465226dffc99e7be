"""Per-process window evaluation: fetch a window's closes, run the strategy, time stages.

One `WindowEvaluator` per process (trial worker, pool worker or the main process):

- access `bulk` loads the universe's closes once when the evaluator is built and the
  data stage of a trial only slices that array;
- access `naive` keeps a read-only SQLite connection and, inside every trial, asks for
  each ticker's close on each date of the window with one query (the source system's
  pattern, kept as the measured baseline).

The RSI of a window does not depend on the trial's parameters: each evaluator computes
it once per window (`rsi`) and reuses it. With bulk access every window's RSI is
computed when the evaluator is built (its `warmup_s`), so forked workers inherit it and
every trial does the same work; with naive access the first trial of a window in a
process computes it.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from perfopt.optimize._bootstrap import check_stop
from perfopt.optimize.config import Window
from perfopt.optimize.cv import month_end_rows
from perfopt.optimize.strategy import (
    RSI_PERIOD,
    StrategyParams,
    monthly_returns,
    rebalance_rows,
    select_weights,
    sharpe,
    wilder_rsi,
)
from perfopt.stage_timer import StageTimer


class WindowEvaluator:
    """Evaluates strategy parameters on windows of one stored universe (not thread-safe
    for naive access: one SQLite connection; bulk access only reads shared arrays)."""

    def __init__(
        self,
        data_dir: Path,
        source: str,
        access: str,
        tickers: Sequence[str],
        fee: float,
        windows: Sequence[Window] = (),
    ) -> None:
        from perfopt.data import open_store

        self.access = access
        self.fee = fee
        self.tickers = tuple(tickers)
        self.pid = os.getpid()
        start = time.perf_counter()
        self._store = open_store(data_dir, source)
        self.calendar = self._store.dates()
        self.days = np.datetime_as_string(self.calendar, unit="D").tolist()
        self.month_ends = month_end_rows(self.calendar)
        self.close: np.ndarray | None = None
        if access == "bulk":
            self.close = self._store.load("close", self.tickers, self.calendar, "bulk")
            self._store.close_handle()
            self._store = None
        self.load_s = time.perf_counter() - start
        self._rsi: dict[tuple[int, int], np.ndarray] = {}
        start = time.perf_counter()
        if self.close is not None:
            for window in windows:
                self.rsi(window, self.fetch(window))
        self.warmup_s = time.perf_counter() - start

    def rsi(self, window: Window, close: np.ndarray) -> np.ndarray:
        """The RSI of the window's closes `close`: computed once in this process, then kept."""
        key = (window.span_start, window.last)
        found = self._rsi.get(key)
        if found is None:
            found = self._rsi[key] = wilder_rsi(close, RSI_PERIOD)
        return found

    def fetch(self, window: Window) -> np.ndarray:
        """The window's closes, history rows included: (rows x tickers), C order."""
        if self.close is not None:
            return np.ascontiguousarray(self.close[window.span_start : window.last + 1])
        assert self._store is not None
        out = np.empty((window.n_rows, len(self.tickers)))
        point = self._store.point
        for i, day in enumerate(self.days[window.span_start : window.last + 1]):
            check_stop()  # a naive window takes long enough for Ctrl-C to matter
            for j, ticker in enumerate(self.tickers):
                out[i, j] = point("close", ticker, day)
        return out

    def evaluate(
        self, window: Window, params: StrategyParams, timer: StageTimer
    ) -> tuple[float, int]:
        """Sharpe of the window's monthly returns; returns (value, months)."""
        with timer.stage("data"):
            close = self.fetch(window)
        with timer.stage("signals"):
            rsi = self.rsi(window, close)
            rows = rebalance_rows(self.month_ends, window.first)
            rows = rows[(rows >= window.span_start) & (rows <= window.last)] - window.span_start
            weights, filled = select_weights(close, rsi, rows, params)
        with timer.stage("returns"):
            returns = monthly_returns(filled, rows, weights, self.fee)
        with timer.stage("metrics"):
            value = sharpe(returns)
        return value, len(returns)


_EVALUATOR: WindowEvaluator | None = None
_WINDOWS: tuple[Window, ...] = ()


def init_process_evaluator(
    data_dir: Path,
    source: str,
    access: str,
    tickers: Sequence[str],
    fee: float,
    windows: Sequence[Window],
) -> WindowEvaluator:
    """Build this process's evaluator (pool initializer and trial workers)."""
    global _EVALUATOR, _WINDOWS
    _EVALUATOR = WindowEvaluator(data_dir, source, access, tickers, fee, windows)
    _WINDOWS = tuple(windows)
    return _EVALUATOR


_THREAD = threading.local()


def init_thread_evaluator(
    data_dir: Path,
    source: str,
    access: str,
    tickers: Sequence[str],
    fee: float,
    windows: Sequence[Window],
) -> None:
    """Thread-pool initializer: this thread's own evaluator (a store handle is per thread)."""
    global _WINDOWS
    _THREAD.evaluator = WindowEvaluator(data_dir, source, access, tickers, fee, windows)
    _WINDOWS = tuple(windows)


def process_evaluator() -> WindowEvaluator:
    """This thread's evaluator (a --bt-pool thread worker), else this process's."""
    local = getattr(_THREAD, "evaluator", None)
    if local is not None:
        return local
    if _EVALUATOR is None:
        raise RuntimeError("init_process_evaluator was not called in this process")
    return _EVALUATOR


def evaluate_window_task(task: tuple[int, dict[str, Any]]) -> dict[str, Any]:
    """Pool task: evaluate window `index` with `params`; return value, stages and pid."""
    index, params = task
    timer = StageTimer()
    value, months = process_evaluator().evaluate(
        _WINDOWS[index], StrategyParams.from_dict(params), timer
    )
    return {"value": value, "months": months, "stages": timer.as_dict(), "pid": os.getpid()}


def pool_ready_task(_: int) -> dict[str, Any]:
    """Pool task answering this worker's pid, thread pools and start-up costs."""
    from perfopt.machine import thread_pools

    ev = process_evaluator()
    return {
        "pid": os.getpid(),
        "thread_pools": thread_pools(),
        "load_s": ev.load_s,
        "warmup_s": ev.warmup_s,
    }
