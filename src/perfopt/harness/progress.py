"""Progress reporting for matrix runs: a tqdm bar over repeats with ETA, a line per cell."""

from __future__ import annotations

import sys
import time
from typing import Any, TextIO

from perfopt.harness.cells import Cell
from perfopt.urls import mask_secrets


class Progress:
    """Callbacks the scheduler makes; this base class ignores them all."""

    def begin(self, cells: int, resumed_cells: int) -> None:
        """Called once with the number of cells to run and those resumed as done."""

    def begin_repeats(self, total: int, resumed: int) -> None:
        """Called once with the repeats planned and those an interrupted run left."""

    def add_repeats(self, n: int) -> None:
        """An adaptive run (--until-ci) planned n more repeats."""

    def repeat_done(self, cell: Cell, repeat: Any) -> None:
        """Called after each repeat (a `runner.Repeat`)."""

    def cell_done(self, cell: Cell, record: dict[str, Any]) -> None:
        """Called after each cell's line is written."""

    def note(self, text: str) -> None:
        """A one-line message worth showing (py-spy off, folder changed...)."""

    def close(self) -> None:
        """Called once at the end (also after Ctrl-C)."""


class ConsoleProgress(Progress):
    """tqdm bar over repeats on a TTY; always one line per finished cell on `stream`."""

    def __init__(self, stream: TextIO | None = None) -> None:
        self.stream = stream or sys.stderr
        self._bar: Any = None
        self._total = 0
        self._done = 0
        self._cells = 0
        self._cells_done = 0
        self._t0 = time.monotonic()

    def begin(self, cells: int, resumed_cells: int) -> None:
        """Remember the cell count; say what a resume skips."""
        self._cells = cells
        if resumed_cells:
            self.note(f"resuming: {resumed_cells} cells already finished")

    def begin_repeats(self, total: int, resumed: int) -> None:
        """Open the bar over every planned repeat."""
        from tqdm import tqdm

        self._total = max(total - resumed, 0)
        self._t0 = time.monotonic()
        if resumed:
            self.note(f"resuming: {resumed} repeats of unfinished cells kept")
        self._bar = tqdm(
            total=self._total,
            file=self.stream,
            unit="run",
            disable=not self.stream.isatty(),
            dynamic_ncols=True,
        )

    def add_repeats(self, n: int) -> None:
        """Grow the bar's total."""
        self._total += n
        if self._bar is not None:
            self._bar.total = self._total
            self._bar.refresh()

    def repeat_done(self, cell: Cell, repeat: Any) -> None:
        """Advance the bar by one run."""
        self._done += 1
        if self._bar is not None:
            self._bar.update(1)

    def cell_done(self, cell: Cell, record: dict[str, Any]) -> None:
        """Print the cell's line above the bar with the ETA of the remaining runs."""
        self._cells_done += 1
        status = record["status"]
        detail = ""
        if status == "ok":
            timing = record.get("timing", {})
            detail = f" {timing.get('median_s', 0.0):.3f} s"
            if timing.get("n", 1) > 1:
                detail += f" (median of {timing['n']}, spread {timing['spread_pct']:.1f}%)"
        elif record.get("error"):
            detail = " " + record["error"].splitlines()[0][:120]
        eta = ""
        left = self._total - self._done
        elapsed = time.monotonic() - self._t0
        if self._done and left > 0:
            eta = f" [ETA {_clock(elapsed / self._done * left)}]"
        line = (
            f"[{self._cells_done}/{self._cells}] {cell.cell_id} {cell.label}: {status}{detail}{eta}"
        )
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
