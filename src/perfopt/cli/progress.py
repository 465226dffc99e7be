"""Progress on stderr for commands that take more than a few seconds.

Two shapes: `Steps` prints one line per named step with the time since the command
began (works on a terminal and in a log file alike), and `BatchBar` draws a tqdm bar
over a known count on a terminal, falling back to a line every few seconds elsewhere,
so no command is silent for a minute whether or not stderr is a TTY.
"""

from __future__ import annotations

import sys
import time
from typing import Any, TextIO

from perfopt.units import fmt_duration


class Steps:
    """One line per step on `stream`: "[  1.2 s] writing prices.sqlite"."""

    def __init__(self, stream: TextIO | None = None, enabled: bool = True) -> None:
        self.stream = stream or sys.stderr
        self.enabled = enabled
        self._t0 = time.monotonic()

    def __call__(self, text: str) -> None:
        """Print `text` with the elapsed time."""
        if self.enabled:
            elapsed = time.monotonic() - self._t0
            print(f"[{fmt_duration(elapsed):>8}] {text}", file=self.stream, flush=True)


class BatchBar:
    """A bar over `total` units per round (epochs, games); lines every `every_s` off a TTY."""

    def __init__(
        self,
        total: int,
        rounds: int = 1,
        unit: str = "batch",
        plural: str = "batches",
        round_name: str = "epoch",
        stream: TextIO | None = None,
        every_s: float = 10.0,
        enabled: bool = True,
    ) -> None:
        self.stream = stream or sys.stderr
        self.total = total
        self.rounds = rounds
        self.unit = unit
        self.plural = plural
        self.round_name = round_name
        self.every_s = every_s
        self.enabled = enabled
        self._tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self._bar: Any = None
        self._round = -1
        self._last_line = time.monotonic()
        self._t0 = time.monotonic()

    def update(self, round_index: int, done: int, total: int) -> None:
        """Called after each unit: `done` of `total` in round `round_index` (0-based)."""
        if not self.enabled:
            return
        if round_index != self._round:
            self._start_round(round_index, total)
        if self._bar is not None:
            self._bar.update(done - self._bar.n)
        now = time.monotonic()
        if not self._tty and (done == total or now - self._last_line >= self.every_s):
            self._last_line = now
            print(
                f"{self.round_name} {round_index + 1}/{self.rounds}: {done}/{total} "
                f"{self.plural} after {fmt_duration(now - self._t0)}",
                file=self.stream,
                flush=True,
            )

    def _start_round(self, round_index: int, total: int) -> None:
        self.close()
        self._round = round_index
        if self._tty:
            from tqdm import tqdm

            self._bar = tqdm(
                total=total,
                desc=f"{self.round_name} {round_index + 1}/{self.rounds}",
                unit=self.unit,
                file=self.stream,
                dynamic_ncols=True,
                leave=False,
            )

    def close(self) -> None:
        """Close the bar of the current round."""
        if self._bar is not None:
            self._bar.close()
            self._bar = None
