"""The order in which repeats run: interleaved rounds per grid, adaptive when asked.

Cells that a comparison pairs live in the same grid, so each grid runs in rounds: round
k runs the k-th repeat of every cell of the grid in a seeded shuffle (A B | B A | A B
...), and drift of the machine (another job starting, a thermal change) falls on both
sides of every ratio instead of on one cell. With `until_ci`, rounds go on after the
minimum for the cells whose judged ratios (target pairs, and every cell against the
grid's default) are still wider than asked, until `max_repeats` or the time budget.
A cell's line is written when its grid is done; each repeat is saved as it finishes,
so an interrupted run resumes without rerunning them.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from perfopt.harness import environment, launcher
from perfopt.harness.cells import Cell
from perfopt.harness.progress import Progress
from perfopt.harness.runner import (
    Repeat,
    RunContext,
    cell_record,
    run_repeat,
    saved_repeats,
    skipped_record,
)


@dataclass(frozen=True)
class ScheduleOptions:
    """How many repeats: the spec's minimum, or until every judged interval is narrow."""

    until_ci_pct: float | None = None  # half-width of the 95% interval, % of the ratio
    max_repeats: int = 10
    budget_s: float | None = None  # wall time after which no repeat is added


@dataclass
class _CellState:
    cell: Cell
    repeats: list[Repeat]
    target: int
    start: str = field(default_factory=environment.utc_now)
    failed: Repeat | None = None

    @property
    def pending(self) -> bool:
        return self.failed is None and len(self.repeats) < self.target


def run_cells(
    cells: Sequence[Cell],
    ctx: RunContext,
    write: Callable[[dict[str, Any]], None],
    progress: Progress,
    options: ScheduleOptions | None = None,
) -> dict[str, int]:
    """Run every cell grid by grid in interleaved rounds; return counts by status."""
    options = options or ScheduleOptions()
    t0 = time.monotonic()
    counts: dict[str, int] = {}
    order = [0]
    grids: dict[str, list[Cell]] = {}
    for cell in cells:
        grids.setdefault(cell.grid, []).append(cell)
    extra_runs = ctx.pyspy and ctx.spec.pyspy_separate
    progress.begin_repeats(
        sum(c.repeats + int(extra_runs) for c in cells if not c.skip),
        sum(len(saved_repeats(ctx, c)) for c in cells if not c.skip),
    )
    if ctx.spec.cell_start == "fork" and launcher.supported() and ctx.launchers is None:
        ctx.launchers = launcher.Launchers(ctx.spec.prepare_timeout)
    try:
        for grid, members in grids.items():
            for record in _run_grid(grid, members, ctx, progress, options, t0, order):
                write(record)
                counts[record["status"]] = counts.get(record["status"], 0) + 1
    finally:
        if ctx.launchers is not None:
            ctx.launchers.close()
            ctx.launchers = None
    return counts


def _run_grid(
    grid: str,
    members: Sequence[Cell],
    ctx: RunContext,
    progress: Progress,
    options: ScheduleOptions,
    t0: float,
    order: list[int],
) -> list[dict[str, Any]]:
    states = [_CellState(c, saved_repeats(ctx, c), c.repeats) for c in members if not c.skip]
    rounds = 0
    while True:
        pending = [s for s in states if s.pending]
        if not pending:
            if not _widen(states, ctx, options, t0, progress):
                break
            continue
        rng = random.Random(f"{ctx.spec.name}|{grid}|{rounds}")
        rng.shuffle(pending)
        rounds += 1
        for state in pending:
            index = len(state.repeats)
            attach = ctx.pyspy and not ctx.spec.pyspy_separate and index == state.cell.repeats - 1
            rep = run_repeat(state.cell, ctx, index, order[0], "attached" if attach else "off")
            order[0] += 1
            progress.repeat_done(state.cell, rep)
            if rep.status == "ok":
                state.repeats.append(rep)
            else:
                state.failed = rep
    out = []
    by_id = {s.cell.cell_id: s for s in states}
    for cell in members:
        if cell.skip:
            record = skipped_record(cell, ctx)
        else:
            state = by_id[cell.cell_id]
            extra = None
            if state.failed is None and ctx.pyspy and ctx.spec.pyspy_separate:
                extra = run_repeat(cell, ctx, len(state.repeats), order[0], "extra")
                order[0] += 1
                progress.repeat_done(cell, extra)
            reps = state.repeats + ([state.failed] if state.failed else [])
            record = cell_record(cell, ctx, reps, state.start, extra)
        progress.cell_done(cell, record)
        out.append(record)
    return out


def _widen(
    states: Sequence[_CellState],
    ctx: RunContext,
    options: ScheduleOptions,
    t0: float,
    progress: Progress,
) -> bool:
    """Raise the repeat target of cells in judged ratios still too wide; False when done."""
    if options.until_ci_pct is None:
        return False
    if options.budget_s is not None and time.monotonic() - t0 >= options.budget_s:
        progress.note(f"--budget of {options.budget_s:g} s spent: no more repeats")
        return False
    ok = [s for s in states if s.failed is None and s.repeats]
    lines = [cell_record(s.cell, ctx, s.repeats, s.start) for s in ok]
    wide = wide_cells(lines, options.until_ci_pct / 100.0, ctx.spec.targets)
    grow = [s for s in ok if s.cell.cell_id in wide and s.target < options.max_repeats]
    for s in grow:
        s.target += 1
    if grow:
        progress.add_repeats(len(grow))
    return bool(grow)


def wide_cells(
    lines: Sequence[dict[str, Any]], half_width: float, own: Sequence[Any] = ()
) -> set[str]:
    """Ids of cells in a judged ratio whose interval is wider than +-half_width.

    `own`: the matrix file's own [[target]] claims, judged beside the built-in ones.
    """
    from perfopt.harness.recommend import recommend
    from perfopt.harness.records import records
    from perfopt.harness.targets import TARGETS, evaluate_all, judged_pairs

    recs = records(lines)
    out: set[str] = set()
    for pair in judged_pairs(evaluate_all(recs, (*own, *TARGETS))):
        if pair.ratio.half_width is None or pair.ratio.half_width > half_width:
            out |= {pair.base.cell_id, pair.variant.cell_id}
    for rec in recommend(recs):
        for cand in rec.candidates:
            if cand.gain.half_width is None or cand.gain.half_width > half_width:
                out |= {rec.base.cell_id, cand.cell.cell_id}
    return out
