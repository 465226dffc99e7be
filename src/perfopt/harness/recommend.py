"""Recommendations: a setting faster than the grid's default, only when significantly so.

Per host and grid, every ok cell is compared with the grid's default configuration on
wall time (gain = default time / cell time, with its 95% interval from the repeats). A
cell is a candidate only when it keeps the problem the same: it changes no axis its
workload declares as changing the problem (a different universe, dataset, number of
trials, timeframe pair) and takes no value marked as no drop-in substitute (in-memory
storage). A candidate is recommended when the interval of its gain excludes 1.0 and
the gain is at least MIN_GAIN, and neither cell was measured while other processes kept
the machine busy (their runs competed with strangers: no evidence either way); among
several, the one whose interval's lower end is highest, unless a simpler one (a part of
its changes) is not significantly slower than it: then the simpler one, since the extra
changes bought nothing the repeats can show (otherwise two runs could name either of
two equal settings). Otherwise the grid gets "no setting is significantly faster than
the default".
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from perfopt.harness import stats
from perfopt.harness.records import CellRecord, HostKey, busy_machine

MIN_GAIN = 1.05


@dataclass(frozen=True)
class Candidate:
    """A cell against the grid's default: what it changes and how much faster it is."""

    cell: CellRecord
    changed: tuple[tuple[str, Any, Any], ...]  # (axis, default's value, cell's value)
    gain: stats.Ratio  # default time / cell time: > 1 is faster
    busy: str | None = None  # why the machine was too busy for this gain to be evidence

    @property
    def significant(self) -> bool:
        """The interval excludes 1.0, the gain is at least MIN_GAIN, the machine was quiet."""
        g = self.gain
        return (
            self.busy is None
            and g.enough
            and g.low is not None
            and g.low > 1.0
            and g.value >= MIN_GAIN
        )

    def change_text(self) -> str:
        """'n_jobs=2 storage=sqlite' (the cell's values of the axes it changes)."""
        return " ".join(f"{k}={_fmt(v)}" for k, _, v in self.changed)


@dataclass(frozen=True)
class Recommendation:
    """One grid's answer: the default, its candidates, and the best significant one."""

    host: HostKey
    workload: str
    grid: str
    base: CellRecord | None
    candidates: tuple[Candidate, ...]
    excluded: tuple[tuple[CellRecord, str], ...]  # cells that change the problem, and why
    best: Candidate | None
    # the fastest-looking candidate when a simpler one was chosen, and its gain over it
    passed_over: tuple[Candidate, stats.Ratio] | None = None


def recommend(records: Sequence[CellRecord]) -> list[Recommendation]:
    """One recommendation per host and grid, in the order the grids first appear."""
    groups: dict[tuple[HostKey, str, str], list[CellRecord]] = {}
    for r in records:
        groups.setdefault((r.host, r.workload, r.grid), []).append(r)
    return [
        _grid(host, workload, grid, members) for (host, workload, grid), members in groups.items()
    ]


def _grid(host: HostKey, workload: str, grid: str, members: list[CellRecord]) -> Recommendation:
    base = next((r for r in members if r.baseline), None)
    if base is None or not base.ok or not base.values("seconds"):
        return Recommendation(host, workload, grid, base, (), (), None)
    candidates, excluded = [], []
    for cell in members:
        if cell is base or not cell.ok or not cell.values("seconds"):
            continue
        changed = tuple(
            (k, base.params.get(k), cell.params.get(k))
            for k in sorted(set(base.scalar_params()) | set(cell.scalar_params()))
            if base.params.get(k) != cell.params.get(k)
        )
        why = _changes_problem(cell, changed)
        if why:
            excluded.append((cell, why))
            continue
        gain = stats.ratio(cell.values("seconds"), base.values("seconds"))
        candidates.append(Candidate(cell, changed, gain, busy_machine(base, cell)))
    significant = [c for c in candidates if c.significant]
    if not significant:
        return Recommendation(host, workload, grid, base, tuple(candidates), tuple(excluded), None)
    top = max(significant, key=lambda c: c.gain.low or 0.0)
    best, passed_over = _simplest_equal(top, significant), None
    if best is not top:
        passed_over = (top, stats.ratio(top.cell.values("seconds"), best.cell.values("seconds")))
    return Recommendation(
        host, workload, grid, base, tuple(candidates), tuple(excluded), best, passed_over
    )


def _simplest_equal(top: Candidate, significant: Sequence[Candidate]) -> Candidate:
    """`top`, or the candidate with the fewest of its changes that it does not beat."""
    simpler = []
    for c in significant:
        if len(c.changed) >= len(top.changed) or not set(c.changed) <= set(top.changed):
            continue
        extra = stats.ratio(top.cell.values("seconds"), c.cell.values("seconds"))
        beats = extra.enough and extra.low is not None and extra.low > 1.0
        if not (beats and extra.value >= MIN_GAIN):
            simpler.append(c)
    if not simpler:
        return top
    return min(simpler, key=lambda c: (len(c.changed), -(c.gain.low or 0.0)))


def _changes_problem(cell: CellRecord, changed: Sequence[tuple[str, Any, Any]]) -> str | None:
    for axis, _, value in changed:
        why = cell.problem_axes.get(axis) or cell.problem_axes.get(f"{axis}={_fmt(value)}")
        if why:
            return f"{axis}={_fmt(value)}: {why}"
    return None


def _fmt(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)
