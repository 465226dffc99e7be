"""Stage timers: named, nestable wall-clock spans collected into a plain dict."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager


class StageTimer:
    """Accumulate seconds per named stage; nested stages are recorded as "outer/inner".

    Contract: `stage(name)` is a context manager; entering it inside another stage of the
    same thread records the time under "outer/inner". A stage entered again adds to its
    total, so a loop over `with timer.stage("signals"):` gives the loop's sum. Time spent
    in an inner stage also counts in the outer one (totals are inclusive). The nesting is
    tracked per thread and the totals are guarded by a lock, so threads may share one
    timer. The clock is injectable so tests can give exact numbers.
    """

    def __init__(self, clock: Callable[[], float] = time.perf_counter) -> None:
        self._clock = clock
        self._totals: dict[str, float] = {}
        self._lock = threading.Lock()
        self._local = threading.local()

    def _stack(self) -> list[str]:
        stack = getattr(self._local, "stack", None)
        if stack is None:
            stack = self._local.stack = []
        return stack

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        """Time the enclosed block under `name` (nested under the current stage, if any)."""
        if not name or "/" in name:
            raise ValueError(f"stage name must be non-empty and contain no '/': {name!r}")
        stack = self._stack()
        stack.append(name)
        path = "/".join(stack)
        with self._lock:
            # Reserve the key now so the dict lists stages in the order they started.
            self._totals.setdefault(path, 0.0)
        start = self._clock()
        try:
            yield
        finally:
            elapsed = self._clock() - start
            stack.pop()
            with self._lock:
                self._totals[path] = self._totals.get(path, 0.0) + elapsed

    def as_dict(self) -> dict[str, float]:
        """Return seconds per stage path, in the order stages first started."""
        with self._lock:
            return dict(self._totals)
