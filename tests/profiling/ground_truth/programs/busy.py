"""Busy Python for a number of seconds (wall time, so a loaded machine cannot stretch it)."""

from __future__ import annotations

import time


def busy(seconds: float) -> int:
    """Spin in pure Python until `seconds` have passed; return a checksum."""
    end = time.perf_counter() + seconds
    x = 0
    while time.perf_counter() < end:
        for i in range(2000):
            x += i * i
    return x
