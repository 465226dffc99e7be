"""Run a whole matrix: pick the run folder, expand cells, run them, write the report."""

from __future__ import annotations

import logging
import os
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from perfopt.errors import UserError
from perfopt.harness import cells as cells_mod
from perfopt.harness import environment, results
from perfopt.harness.progress import Progress
from perfopt.harness.runner import RunContext, run_cell, skipped_record
from perfopt.harness.spec import MatrixSpec
from perfopt.harness.views import measure_overhead_line, pyspy_status

log = logging.getLogger(__name__)
RESULTS_NAME = "results.jsonl"


@dataclass
class MatrixRun:
    """What a matrix run did and where it wrote it."""

    out_dir: Path
    results_path: Path
    report_path: Path | None
    counts: dict[str, int] = field(default_factory=dict)
    resumed: int = 0
    notes: list[str] = field(default_factory=list)


def run_matrix(
    spec: MatrixSpec,
    out: Path | None = None,
    *,
    resume: bool = False,
    only: str | None = None,
    runs_root: Path = Path("runs"),
    cache_dir: Path | None = None,
    progress: Progress | None = None,
    keep_workdirs: bool = False,
    write_report: bool = True,
) -> MatrixRun:
    """Run every cell of `spec` (or those matching `only`), then write REPORT.md."""
    progress = progress or Progress()
    all_cells = cells_mod.expand(spec)  # validates before any folder is made
    chosen = _filter(all_cells, only)
    notes: list[str] = []
    out_dir = _choose_out_dir(spec.name, out, resume, runs_root, notes)
    out_dir.mkdir(parents=True, exist_ok=True)
    results_path = out_dir / RESULTS_NAME
    results.repair_tail(results_path)
    done = results.finished_ids(results_path) if resume else set()
    todo = [c for c in chosen if c.cell_id not in done]
    # Nothing outside the run folder when --out is given (cache/ inside it), else runs/cache.
    cache = cache_dir or Path(
        os.environ.get("PERFOPT_CACHE_DIR", "") or (runs_root if out is None else out) / "cache"
    )
    pyspy = spec.pyspy
    if pyspy:
        usable, reason = pyspy_status()
        if not usable:
            notes.append(f"py-spy view off: {reason}")
            pyspy = False
    ctx = RunContext(
        spec=spec,
        out_dir=out_dir,
        cache_dir=cache.resolve(),
        pyspy=pyspy,
        environment=environment.collect(),
        keep_workdirs=keep_workdirs,
    )
    for text in notes:
        progress.note(text)
    counts: dict[str, int] = {}
    progress.begin(len(todo), len(chosen) - len(todo))
    try:
        for index, cell in enumerate(todo, 1):
            record = skipped_record(cell, ctx) if cell.skip else run_cell(cell, ctx)
            results.append(results_path, record)
            counts[record["status"]] = counts.get(record["status"], 0) + 1
            progress.cell_done(index, cell, record)
        if spec.overhead and not _has_overhead(results_path):
            progress.note("measuring the views' own overhead on a CPU-bound loop")
            results.append(results_path, _overhead_record(spec, ctx))
    finally:
        progress.close()
    report_path = None
    if write_report:
        from perfopt.harness.report import write_report as render

        report_path = render(results_path, out_dir)
    return MatrixRun(
        out_dir=out_dir,
        results_path=results_path,
        report_path=report_path,
        counts=counts,
        resumed=len(chosen) - len(todo),
        notes=notes,
    )


def _filter(all_cells: list[cells_mod.Cell], only: str | None) -> list[cells_mod.Cell]:
    if not only:
        return all_cells
    try:
        pattern = re.compile(only)
    except re.error as exc:
        raise UserError(f"--only {only!r} is not a valid regular expression: {exc}") from exc
    chosen = [
        c for c in all_cells if pattern.search(f"{c.cell_id} {c.workload} {c.grid} {c.label}")
    ]
    if not chosen:
        raise UserError(
            f"--only {only!r} matches none of the {len(all_cells)} cells "
            "(it is searched in 'cell_id workload grid k=v ...')"
        )
    return chosen


def _stamp() -> str:
    return datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")


def _fresh(path: Path) -> Path:
    """`path` if unused, else path-2, path-3...: never write into an earlier run."""
    candidate, n = path, 1
    while candidate.exists() and any(candidate.iterdir()):
        n += 1
        candidate = path.with_name(f"{path.name}-{n}")
    return candidate


def _choose_out_dir(
    name: str, out: Path | None, resume: bool, runs_root: Path, notes: list[str]
) -> Path:
    slug = re.sub(r"[^A-Za-z0-9_.-]+", "-", name).strip("-") or "matrix"
    if resume:
        if out is not None:
            if not (out / RESULTS_NAME).exists():
                raise UserError(f"--resume: {out} has no {RESULTS_NAME} to resume")
            return out
        earlier = sorted(p.parent for p in runs_root.glob(f"*-{slug}/{RESULTS_NAME}"))
        if not earlier:
            raise UserError(
                f"--resume: no earlier run of {name!r} under {runs_root}/; pass --out DIR"
            )
        return earlier[-1]
    if out is None:
        return _fresh(runs_root / f"{_stamp()}-{slug}")
    if out.exists() and any(out.iterdir()):
        fresh = _fresh(out.with_name(f"{out.name}-{_stamp()}"))
        notes.append(
            f"{out} holds an earlier run; writing to {fresh} instead (--resume continues it)"
        )
        return fresh
    return out


def _has_overhead(path: Path) -> bool:
    return any(r.get("kind") == "overhead" for r in results.load(path))


def _overhead_record(spec: MatrixSpec, ctx: RunContext) -> dict[str, Any]:
    env = dict(ctx.environment)
    env["start_utc"] = environment.utc_now()
    return {
        "schema": results.SCHEMA,
        "kind": "overhead",
        "matrix": spec.name,
        "overhead": measure_overhead_line(),
        "environment": env,
    }
