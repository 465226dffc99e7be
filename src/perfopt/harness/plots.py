"""PNG plots for the report: scaling with workers, attribution as stacked bars.

Plots are deterministic for a given results file and matplotlib version (no
"Software"/date metadata in the PNG), so re-rendering a report rewrites the same bytes.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

WORKER_AXES = ("workers", "n_jobs", "bt_workers", "num_workers")
MAX_LINES = 8
MAX_BARS = 30


def write_plots(cells: Sequence[Mapping[str, Any]], out_dir: Path) -> dict[str, list[Path]]:
    """Write each workload's plots under out_dir; return their paths by workload."""
    ok = [c for c in cells if c.get("status") == "ok" and (c.get("timing") or {}).get("median_s")]
    by_workload: dict[str, list[Mapping[str, Any]]] = {}
    for c in ok:
        by_workload.setdefault(c["workload"], []).append(c)
    written: dict[str, list[Path]] = {}
    for workload, members in by_workload.items():
        paths = []
        scaling = _scaling(workload, members, out_dir)
        if scaling:
            paths.append(scaling)
        bars = _attribution(workload, members, out_dir)
        if bars:
            paths.append(bars)
        if paths:
            written[workload] = paths
    return written


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plt.rcParams["svg.hashsalt"] = "perfopt"
    return plt


def _save(fig: Any, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100, metadata={"Software": None})
    return path


def _scalar(c: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in c["params"].items() if not isinstance(v, list | dict)}


def _scaling(workload: str, members: Sequence[Mapping[str, Any]], out_dir: Path) -> Path | None:
    axis = next(
        (a for a in WORKER_AXES if len({_scalar(c).get(a) for c in members} - {None}) > 1), None
    )
    if axis is None:
        return None
    keys = sorted({k for c in members for k in _scalar(c)} - {axis})
    varying = [k for k in keys if len({repr(_scalar(c).get(k)) for c in members}) > 1]
    lines: dict[str, list[tuple[float, float]]] = {}
    for c in members:
        x = c["params"].get(axis)
        if not isinstance(x, int | float):
            continue
        name = " ".join(f"{k}={c['params'].get(k)}" for k in varying) or workload
        lines.setdefault(name, []).append((float(x), c["timing"]["median_s"]))
    lines = {k: v for k, v in lines.items() if len(v) > 1}
    if not lines:
        return None
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7, 4))
    for name in sorted(lines)[:MAX_LINES]:
        pts = sorted(lines[name])
        ax.plot([p[0] for p in pts], [p[1] for p in pts], marker="o", label=name[:60])
    ax.set_xlabel(axis)
    ax.set_ylabel("median seconds (lower is better)")
    ax.set_title(f"{workload}: scaling with {axis}")
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=7)
    fig.tight_layout()
    path = _save(fig, out_dir / f"{workload}-scaling.png")
    plt.close(fig)
    return path


def _attribution(workload: str, members: Sequence[Mapping[str, Any]], out_dir: Path) -> Path | None:
    rows = []
    for c in members[:MAX_BARS]:
        m = c.get("measurement") or {}
        top = {
            k: float(v)
            for k, v in (m.get("stages") or {}).items()
            if "/" not in k and isinstance(v, int | float)
        }
        # stages summed over parallel workers can exceed the wall time (as in the report)
        total = max(m.get("seconds") or 0.0, sum(top.values()))
        stages = {k: v / total for k, v in top.items()} if total else {}
        spy = (c.get("attribution") or {}).get("pyspy") or {}
        cats = spy.get("categories") or {} if spy.get("samples") else {}
        if stages or cats:
            rows.append((c["cell_id"], stages, cats))
    if not rows:
        return None
    plt = _pyplot()
    fig, axes = plt.subplots(1, 2, figsize=(12, 0.45 * len(rows) + 1.8), sharey=True)
    labels = [r[0] for r in rows]
    for ax, index, title in (
        (axes[0], 1, "stage timers (share of wall time)"),
        (axes[1], 2, "py-spy categories (share of samples)"),
    ):
        names = sorted({k for r in rows for k in r[index]})
        left = [0.0] * len(rows)
        cmap = plt.get_cmap("tab10")
        for i, name in enumerate(names):
            widths = [r[index].get(name, 0.0) for r in rows]
            ax.barh(labels, widths, left=left, label=name, color=cmap(i % 10))
            left = [a + b for a, b in zip(left, widths, strict=True)]
        ax.set_title(title, fontsize=9)
        ax.set_xlim(0, max(1.0, max(left, default=1.0)))
        if names:
            ax.legend(fontsize=7, loc="lower right")
    axes[0].invert_yaxis()
    fig.suptitle(f"{workload}: where the time went")
    fig.tight_layout()
    path = _save(fig, out_dir / f"{workload}-attribution.png")
    plt.close(fig)
    return path
