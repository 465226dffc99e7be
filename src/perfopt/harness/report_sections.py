"""The report's per-workload sections: the cells' table, timing warnings, plots, and the
three attribution views side by side with a note where they disagree."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from perfopt.harness import stats
from perfopt.harness.attribution_text import (
    disagreement,
    psutil_text,
    pyspy_slowdown,
    pyspy_text,
    verdict_text,
)
from perfopt.harness.claims import TARGETS
from perfopt.harness.markdown import duration, inline, number, table, value
from perfopt.harness.plots import varying
from perfopt.harness.records import BUSY_MACHINE_CORES, CellRecord

SPREAD_WARN_PCT = 10.0  # pyperf warns when the std dev exceeds 10% of the mean
TINY_S = 0.001  # pyperf: a timing under 1 ms is too short to trust
MAX_METRICS = 10


def workload_section(workload: str, cells: Sequence[CellRecord], plots: Sequence[str]) -> list[str]:
    """'## Workload: NAME': its cells' table, warnings, plots and attribution views."""
    members = [c for c in cells if c.workload == workload]
    axes = varying(members)
    metric_keys = _metric_keys(members)
    lines = [f"## Workload: {workload}\n"]
    fixed = _fixed(members, axes)
    if fixed:
        lines.append(f"Same in every cell: {inline(fixed)}.\n")
    header = [
        "cell",
        *axes,
        "status",
        "median s",
        "n",
        "spread",
        "speed vs default [95%]",
        *metric_keys,
    ]
    rows = []
    warnings: list[str] = []
    for c in members:
        t = c.timing
        rows.append(
            [
                f"`{c.cell_id}`" + (" (default)" if c.baseline else ""),
                *(value(c.params.get(k)) for k in axes),
                c.status,
                number(t.median_s) if c.ok else "-",
                str(t.n),
                f"{t.spread_pct:.1f}%" if t.n > 1 else "-",
                _vs_default(c, members),
                *(number(c.metrics.get(k)) for k in metric_keys),
            ]
        )
        warnings.extend(_timing_warnings(c))
    lines += [*table(header, rows), ""]
    watched = sum(1 for c in members if c.pyspy_watched_a_timed_run)
    if watched:
        lines.append(
            f"py-spy watched one timed run of {watched} of these cells (the preset asks "
            "for it, to save an extra run per cell): that run's time is in the figures "
            "above, and what py-spy costs is under 'Overhead of the views'.\n"
        )
    if warnings:
        lines += ["Timing warnings (pyperf-style):", *warnings, ""]
    for link in plots:
        lines.append(f"![{Path(link).stem}]({link})")
    if plots:
        lines.append("")
    lines.extend(_attribution(members, axes))
    return lines


def _attribution(members: Sequence[CellRecord], axes: Sequence[str]) -> list[str]:
    shown = [c for c in members if c.ok and c.attribution is not None and c.attribution.data]
    if not shown:
        return []
    rows = []
    notes = []
    for c in shown:
        stages = sorted(c.stage_shares().items(), key=lambda kv: (-kv[1], kv[0]))
        stage_txt = ", ".join(f"{k} {100 * v:.0f}%" for k, v in stages[:4]) or "-"
        # values as the table above writes them (a float's repr, not a short form)
        label = f"`{c.cell_id}` " + " ".join(f"{k}={value(c.params.get(k))}" for k in axes)
        label = label.strip()
        rows.append(
            [label, stage_txt, psutil_text(c.psutil), pyspy_text(c.pyspy), verdict_text(c.verdict)]
        )
        note = disagreement(stages, c.psutil, c.pyspy)
        slow = pyspy_slowdown(c.pyspy, c.median_s)
        if slow:
            note = (note + "; " if note else "") + slow
        over = c.attribution.oversubscription if c.attribution else None
        if over is not None and over.oversubscribed:
            note = (note + "; " if note else "") + f"oversubscribed: {over.reason}"
        if note:
            notes.append(f"- `{c.cell_id}`: {inline(note)}")
    header = ["cell", "stage timers", "psutil (whole process tree)", "py-spy", "verdict"]
    lines = ["### Where the time went: three views side by side\n", *table(header, rows), ""]
    if notes:
        lines += ["Where the views disagree or warn:", *notes, ""]
    return lines


def _fixed(members: Sequence[CellRecord], axes: Sequence[str]) -> str:
    first = members[0].scalar_params() if members else {}
    return " ".join(f"{k}={value(v)}" for k, v in sorted(first.items()) if k not in axes)


def _metric_keys(members: Sequence[CellRecord]) -> list[str]:
    """Metrics worth a column: those targets judge, throughputs, times, then the rest."""
    keys = {k for c in members for k in c.metrics}
    judged = {p.metric for t in TARGETS for p in t.parts}

    def rank(key: str) -> tuple[int, str]:
        if key in judged:
            return 0, key
        if "_per_s" in key:
            return 1, key
        if key.endswith("_s") or "_s_" in key or "ratio" in key:
            return 2, key
        return 3, key

    return sorted(keys, key=rank)[:MAX_METRICS]


def _vs_default(c: CellRecord, members: Sequence[CellRecord]) -> str:
    """Default time / this cell's time with its interval, within the cell's grid."""
    base = next((b for b in members if b.baseline and b.grid == c.grid), None)
    if base is None or base is c or not c.ok or not base.ok:
        return "-"
    mine, theirs = c.values("seconds"), base.values("seconds")
    if not mine or not theirs:
        return "-"
    return stats.ratio(mine, theirs).text()


def _timing_warnings(c: CellRecord) -> list[str]:
    t = c.timing
    out = []
    if c.ok and t.n > 1 and (t.spread_pct or 0) > SPREAD_WARN_PCT:
        out.append(
            f"- `{c.cell_id}`: the standard deviation is {t.spread_pct:.0f}% of the mean "
            f"over {t.n} runs: the result may be unstable (a noisy machine?)"
        )
    busy = c.other_busy_cores if c.ok else None
    if busy is not None and busy >= BUSY_MACHINE_CORES:
        cores = c.environment.get("cores_available", "?")
        out.append(
            f"- `{c.cell_id}`: other processes kept {busy:.1f} of {cores} cores busy during "
            "its runs (other jobs on the machine): its times carry their noise, and a "
            "parallel ratio against it is no evidence"
        )
    if c.ok and t.median_s is not None and t.median_s < TINY_S:
        out.append(
            f"- `{c.cell_id}`: {duration(t.median_s)} is too short to time reliably (< 1 ms)"
        )
    return out
