"""Serial and thread-pool self-play inside the calling process (one shared network)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import psutil

from perfopt.errors import PerfoptError
from perfopt.selfplay.config import SelfplayConfig, WorkerError
from perfopt.selfplay.mcts import SearchStats
from perfopt.selfplay.play import GameRecord, play_game


class _Stopped(Exception):
    """Raised inside a game thread when the run is being stopped."""


def run_in_threads(
    cfg: SelfplayConfig, evaluator: Any, on_game: Callable[[int], None] | None = None
) -> tuple[list[GameRecord], SearchStats, list[float], dict[str, int]]:
    """Play cfg.games games on cfg.workers threads (serial: on this thread).

    on_game(games finished so far) is called after each game (for a progress line).
    """
    proc = psutil.Process()
    lock = threading.Lock()
    stop = threading.Event()
    records: list[GameRecord] = []
    stats = SearchStats()
    peak = [proc.memory_info().rss]
    next_game = [0]
    errors: dict[int, BaseException] = {}
    n = 1 if cfg.parallel == "serial" else cfg.workers
    startup = [0.0] * n
    t_submit = time.perf_counter()

    def sample() -> None:
        if stop.is_set():
            raise _Stopped
        rss = proc.memory_info().rss
        if rss > peak[0]:
            peak[0] = rss

    def body(i: int) -> None:
        startup[i] = time.perf_counter() - t_submit
        try:
            while not stop.is_set():
                with lock:
                    index = next_game[0]
                    next_game[0] += 1
                if index >= cfg.games:
                    return
                local = SearchStats()
                record = play_game(
                    evaluator, index, cfg.seed, cfg.simulations, cfg.mcts_batch_size, local, sample
                )
                with lock:
                    records.append(record)
                    stats.add(local)
                    if on_game is not None:
                        on_game(len(records))
        except _Stopped:
            return
        except BaseException as exc:  # reported by the main thread, naming this worker
            errors[i] = exc
            stop.set()

    if n == 1:
        body(0)
    else:
        threads = [
            threading.Thread(target=body, args=(i,), name=f"selfplay-thread-{i}", daemon=True)
            for i in range(n)
        ]
        for t in threads:
            t.start()
        try:
            for t in threads:
                while t.is_alive():
                    t.join(0.2)  # short joins keep Ctrl-C deliverable to the main thread
        except BaseException:
            stop.set()  # every thread stops at its next move
            for t in threads:
                t.join()
            raise
    if errors:
        i, exc = next(iter(errors.items()))
        raise WorkerError(f"selfplay thread {i} failed: {type(exc).__name__}: {exc}") from exc
    if len(records) != cfg.games:
        raise PerfoptError(f"self-play stopped after {len(records)} of {cfg.games} games")
    return records, stats, startup, {"main": int(peak[0])}
