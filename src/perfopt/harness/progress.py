"""Progress reporting for matrix runs: a tqdm bar with ETA plus one line per cell."""

from __future__ import annotations

import sys
import time
from typing import Any, TextIO

from perfopt.harness.cells import Cell
from perfopt.urls import mask_secrets


class Progress:
    """Callbacks the runner makes; this base class ignores them all."""

    def begin(self, total: int, skipped_done: int) -> None:
        """Called once with the number of cells to run and those resumed as done."""

    def cell_done(self, index: int, cell: Cell, record: dict[str, Any]) -> None:
        """Called after each cell's line is written."""

    def note(self, text: str) -> None:
        """A one-line message worth showing (py-spy off, folder changed...)."""

    def close(self) -> None:
        """Called once at the end (also after Ctrl-C)."""


class ConsoleProgress(Progress):
    """tqdm bar on a TTY, and always one line per finished cell on `stream`."""

    def __init__(self, stream: TextIO | None = None) -> None:
        self.stream = stream or sys.stderr
        self._bar: Any = None
        self._total = 0
        self._t0 = time.monotonic()

    def begin(self, total: int, skipped_done: int) -> None:
        """Open the bar."""
        from tqdm import tqdm

        self._total = total
        self._t0 = time.monotonic()
        if skipped_done:
            self.note(f"resuming: {skipped_done} cells already finished")
        self._bar = tqdm(
            total=total,
            file=self.stream,
            unit="cell",
            disable=not self.stream.isatty(),
            dynamic_ncols=True,
        )

    def cell_done(self, index: int, cell: Cell, record: dict[str, Any]) -> None:
        """Print the cell's line above the bar and advance it."""
        status = record["status"]
        detail = ""
        if status == "ok":
            timing = record.get("timing", {})
            detail = f" {timing.get('median_s', 0.0):.3f} s"
            if timing.get("n", 1) > 1:
                detail += f" (median of {timing['n']}, spread {timing['spread_pct']:.1f}%)"
        elif record.get("error"):
            detail = " " + record["error"].splitlines()[0][:120]
        if self._bar is not None:
            self._bar.update(1)
        eta = ""
        left = self._total - index
        elapsed = time.monotonic() - self._t0
        if index and left:
            eta = f" [ETA {_clock(elapsed / index * left)}]"
        line = f"[{index}/{self._total}] {cell.cell_id} {cell.label}: {status}{detail}{eta}"
        self._write(line)

    def note(self, text: str) -> None:
        """Write a line without breaking the bar."""
        self._write(text)

    def _write(self, text: str) -> None:
        text = mask_secrets(text)
        if self._bar is not None and not self._bar.disable:
            self._bar.write(text, file=self.stream)
        else:
            print(text, file=self.stream, flush=True)

    def close(self) -> None:
        """Close the bar."""
        if self._bar is not None:
            self._bar.close()
            self._bar = None


def _clock(seconds: float) -> str:
    minutes, secs = divmod(int(seconds), 60)
    return f"{minutes // 60}:{minutes % 60:02d}:{secs:02d}"
