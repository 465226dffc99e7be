"""The report's judged sections: target verdicts, recommendations, the views' overhead.

They read typed records (`records.CellRecord`, `view_records.OverheadRecord`) and the
verdict engines (`targets`, `recommend`, `overhead_verdict`); every ratio they print
carries its interval and n.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from perfopt.harness.markdown import duration, inline, table
from perfopt.harness.overhead_verdict import judge_overhead
from perfopt.harness.recommend import Recommendation, recommend
from perfopt.harness.records import CellRecord
from perfopt.harness.targets import INCONCLUSIVE, Target, TargetVerdict, evaluate_all
from perfopt.harness.view_records import OverheadRecord


def targets_section(
    records: Sequence[CellRecord], targets: Sequence[Target] | None = None
) -> list[str]:
    """'## Target verdicts': a table with n and interval, then each verdict's reason.

    `targets`: the claims to judge (default: the built-in ones).
    """
    verdicts = evaluate_all(records) if targets is None else evaluate_all(records, targets)
    hosts = {v.host for v in verdicts if v.host is not None}
    lines = ["## Target verdicts\n"]
    lines.append(
        "Each claim is judged on its own configuration's pair of cells, from repeats in "
        "fresh processes, interleaved: PASS when the 95% interval clears the claim, FAIL "
        "when it lies under it (or the variant is significantly slower), INCONCLUSIVE "
        "when it straddles it or has fewer than 3 runs a side, NOT APPLICABLE only when "
        "this machine cannot show the claim. What each team claimed: docs/claims.md.\n"
    )
    if hosts:
        lines.append(
            f"These results come from {len(hosts)} hosts (or commits, or core counts): each "
            "is judged on its own cells only, never against another's.\n"
        )
    header = [
        "target",
        "verdict",
        "measured",
        "95% interval",
        "n",
        "core bound",
        "efficiency",
        "claim",
        "source",
    ]
    if hosts:
        header.insert(1, "host")
    rows = []
    for v in verdicts:
        lead = _lead(v)
        row = [
            v.id,
            f"**{v.label}**",
            "; ".join(p.measured for p in v.parts),
            "; ".join(p.interval for p in v.parts),
            "; ".join(p.n for p in v.parts),
            f"{lead.bound:g}x" if lead.bound is not None else "-",
            f"{100 * lead.efficiency:.0f}%" if lead.efficiency is not None else "-",
            v.claim,
            v.source,
        ]
        if hosts:
            row.insert(1, v.host.text() if v.host else "-")
        rows.append(row)
    lines += table(header, rows)
    lines.append("")
    for v in verdicts:
        cells = ", ".join(f"`{c}`" for c in v.cells) or "none"
        lines.append(f"- **{v.id}** ({v.label}): {inline(v.reason)}. Cells: {cells}.")
    return [*lines, ""]


def recommendations_section(records: Sequence[CellRecord]) -> list[str]:
    """'## Recommendations': only significant gains that keep the problem the same."""
    lines = [
        "## Recommendations\n",
        "A setting is recommended over a grid's default only when it keeps the problem the "
        "same and the 95% interval of its gain (default time / its time, from the repeats) "
        "excludes 1.0 with a gain of at least 5%, measured while no other process kept the "
        "machine busy.\n",
    ]
    for rec in recommend(records):
        lines.append(_recommendation(rec))
    return [*lines, ""]


def _recommendation(rec: Recommendation) -> str:
    head = f"- **{rec.workload}** (grid `{rec.grid}`)"
    if rec.base is None:
        return f"{head}: no default configuration in this grid, so no gain is claimed."
    if not rec.base.ok:
        return f"{head}: the default configuration `{rec.base.cell_id}` {rec.base.status}, so no gain is claimed."
    n = rec.base.values("seconds")
    if rec.best is not None:
        best = rec.best
        others = [c for c in rec.candidates if c.significant and c is not best]
        text = (
            f"{head}: use `{best.change_text()}` (`{best.cell.cell_id}`) instead of the default "
            f"`{_base_text(rec)}` (`{rec.base.cell_id}`): {best.gain.text()} faster"
        )
        if rec.passed_over is not None:
            top, extra = rec.passed_over
            text += (
                f" (`{top.change_text()}` looks faster but not significantly: "
                f"{extra.text()} over it)"
            )
        if others:
            text += "; also significant: " + ", ".join(
                f"`{c.change_text()}` {c.gain.text()}" for c in others
            )
    else:
        text = (
            f"{head}: no setting is significantly faster than the default "
            f"`{_base_text(rec)}` (`{rec.base.cell_id}`, n={len(n)})"
        )
        quiet = [c for c in rec.candidates if c.busy is None]
        measured = [c for c in quiet if c.gain.enough] or quiet
        if measured:
            top = max(measured, key=lambda c: c.gain.value)
            text += f"; the closest: `{top.change_text()}` {top.gain.text()}"
            if not top.gain.enough:
                text += " (fewer than 3 runs a side)"
    busy = [c for c in rec.candidates if c.busy is not None]
    if busy:
        text += f"; not judged ({busy[0].busy}; rerun on a quiet machine): " + ", ".join(
            f"`{c.change_text()}` {c.gain.text()}" for c in busy[:3]
        )
        if len(busy) > 3:
            text += f" and {len(busy) - 3} more"
    if rec.excluded:
        text += "; not candidates (they change the problem): " + ", ".join(
            f"`{cell.cell_id}` {why}" for cell, why in rec.excluded[:3]
        )
        if len(rec.excluded) > 3:
            text += f" and {len(rec.excluded) - 3} more"
    return text + "."


def _base_text(rec: Recommendation) -> str:
    assert rec.base is not None
    keys = sorted({k for c in rec.candidates for k, _, _ in c.changed})
    return rec.base.params_text(keys) if keys else rec.base.label


def _lead(v: TargetVerdict):  # noqa: ANN202 - a PartVerdict
    """The part whose bound and efficiency the table shows (a parallel one when any)."""
    with_bound = [p for p in v.parts if p.bound is not None]
    if with_bound:
        return with_bound[0]
    decided = [p for p in v.parts if p.verdict != INCONCLUSIVE]
    return (decided or list(v.parts))[0]


def overhead_section(overhead: OverheadRecord | None) -> list[str]:
    """'## Overhead of the views': each view's CPU cost against its target, and wall time."""
    if overhead is None:
        return []
    lines = ["## Overhead of the views\n"]
    if not overhead.available:
        lines.append(f"Not measured: {overhead.reason or 'unknown'}.")
        return [*lines, ""]
    spread = overhead.bare_spread()
    rows = [
        ["bare", "-", "-", "-", duration(overhead.median_s.get("bare")), f"spread {_pct(spread)}"]
    ]
    rows += [
        [
            v.name,
            _pct(v.cpu_cost),
            f"<= {100 * v.target:.0f}%",
            v.verdict,
            duration(v.median_s),
            v.wall_change,
        ]
        for v in judge_overhead(overhead)
    ]
    header = ["view", "CPU cost", "target", "verdict", "wall median", "wall change"]
    lines += [
        f"A CPU-bound command of fixed work, {'?' if overhead.repeats is None else overhead.repeats} interleaved repeats per "
        "variant. The CPU cost (CPU the watcher used over the command's CPU) is the stable "
        "measure; the wall-time change is what the command felt, and is only meaningful "
        "when it exceeds the spread of the bare runs."
        + _reused_text(overhead.data.get("overhead") or {})
        + "\n",
        *table(header, rows),
    ]
    return [*lines, ""]


def _reused_text(line: dict[str, Any]) -> str:
    """Where the overhead line is a day-old-at-most measurement kept for this machine."""
    if "reused_from" not in line:
        return ""
    return (
        f" Measured at {line['reused_from']} on this machine with the same Python, py-spy and "
        "perfopt, and reused by this run (it is measured again once a day)."
    )


def _pct(x: float | None) -> str:
    return "-" if x is None else f"{100 * x:.1f}%"
