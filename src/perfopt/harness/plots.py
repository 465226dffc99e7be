"""PNG plots for the report: scaling with workers (with intervals), attribution bars.

Rows and lines are labelled by the parameters that differ between cells, never by a
bare cell hash; legends sit outside the data; stage bars show top-level stages only
(nested "outer/inner" stages and sums such as "total" would count time twice), so they
add up. Plots are deterministic for a given results file and matplotlib version (no
"Software"/date metadata in the PNG): re-rendering a report rewrites the same bytes.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from perfopt.harness import stats
from perfopt.harness.records import CellRecord

WORKER_AXES = ("workers", "n_jobs", "bt_workers", "num_workers")
MAX_LINES = 8
MAX_BARS = 30


def write_plots(cells: Sequence[CellRecord], out_dir: Path) -> dict[str, list[Path]]:
    """Write each workload's plots under out_dir; return their paths by workload."""
    ok = [c for c in cells if c.ok and c.values("seconds")]
    by_workload: dict[str, list[CellRecord]] = {}
    for c in ok:
        by_workload.setdefault(c.workload, []).append(c)
    written: dict[str, list[Path]] = {}
    for workload, members in by_workload.items():
        paths = [
            p
            for p in (
                _scaling(workload, members, out_dir),
                _attribution(workload, members, out_dir),
            )
            if p is not None
        ]
        if paths:
            written[workload] = paths
    return written


def varying(members: Sequence[CellRecord], leave_out: Sequence[str] = ()) -> list[str]:
    """The scalar params whose value differs between the cells, sorted."""
    keys = sorted({k for c in members for k in c.scalar_params()} - set(leave_out))
    return [k for k in keys if len({repr(c.scalar_params().get(k)) for c in members}) > 1]


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plt.rcParams["svg.hashsalt"] = "perfopt"
    return plt


def _save(fig: Any, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100, metadata={"Software": None}, bbox_inches="tight")
    return path


def _scaling(workload: str, members: Sequence[CellRecord], out_dir: Path) -> Path | None:
    axis = next(
        (a for a in WORKER_AXES if len({c.params.get(a) for c in members} - {None}) > 1), None
    )
    if axis is None:
        return None
    names = varying(members, leave_out=(axis,))
    lines: dict[str, list[tuple[float, stats.Level]]] = {}
    for c in members:
        x = c.params.get(axis)
        if not isinstance(x, int | float) or isinstance(x, bool):
            continue
        name = c.params_text(names) or workload
        lines.setdefault(name, []).append((float(x), stats.level(c.values("seconds"))))
    lines = {k: v for k, v in lines.items() if len(v) > 1}
    if not lines:
        return None
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7, 4))
    for name in sorted(lines)[:MAX_LINES]:
        pts = sorted(lines[name], key=lambda p: p[0])
        xs = [p[0] for p in pts]
        ys = [p[1].value for p in pts]
        err = [
            [max(p[1].value - (p[1].low or p[1].value), 0.0) for p in pts],
            [max((p[1].high or p[1].value) - p[1].value, 0.0) for p in pts],
        ]
        ax.errorbar(xs, ys, yerr=err, marker="o", capsize=3, label=name[:70])
    ax.set_xlabel(axis)
    ax.set_ylabel("seconds per run (lower is better)")
    ax.set_title(f"{workload}: time with {axis} (geometric mean, 95% interval)")
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.02, 1.0), borderaxespad=0.0)
    path = _save(fig, out_dir / f"{workload}-scaling.png")
    plt.close(fig)
    return path


def _attribution(workload: str, members: Sequence[CellRecord], out_dir: Path) -> Path | None:
    names = varying(members)
    rows = []
    for c in members[:MAX_BARS]:
        cats = c.pyspy.sampled_categories if c.pyspy else {}
        stages = c.stage_shares()
        if stages or cats:
            rows.append((c.params_text(names) or c.label or c.cell_id, stages, cats))
    if not rows:
        return None
    plt = _pyplot()
    fig, axes = plt.subplots(1, 2, figsize=(13, 0.45 * len(rows) + 1.8), sharey=True)
    labels = [r[0][:60] for r in rows]
    for ax, index, title in (
        (axes[0], 1, "stage timers (share of the run)"),
        (axes[1], 2, "py-spy categories (share of samples)"),
    ):
        keys = sorted({k for r in rows for k in r[index]})
        left = [0.0] * len(rows)
        cmap = plt.get_cmap("tab20")
        for i, key in enumerate(keys):
            widths = [r[index].get(key, 0.0) for r in rows]
            ax.barh(labels, widths, left=left, label=key, color=cmap(i % 20))
            left = [a + b for a, b in zip(left, widths, strict=True)]
        ax.set_title(title, fontsize=9)
        ax.set_xlim(0, 1.0)
        if keys:
            ax.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.08), ncol=3)
    axes[0].invert_yaxis()
    fig.suptitle(f"{workload}: where the time went")
    path = _save(fig, out_dir / f"{workload}-attribution.png")
    plt.close(fig)
    return path
