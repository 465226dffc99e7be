"""Run a whole matrix: pick the run folder, expand cells, run them, write the report."""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from perfopt.errors import UserError
from perfopt.harness import cells as cells_mod
from perfopt.harness import environment, results
from perfopt.harness.overhead_cache import overhead_line
from perfopt.harness.progress import Progress
from perfopt.harness.runner import RunContext
from perfopt.harness.schedule import ScheduleOptions, run_cells
from perfopt.harness.spec import MatrixSpec
from perfopt.harness.views import measure_overhead_line, pyspy_status
from perfopt.run_folders import run_stamp

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
    options: ScheduleOptions | None = None,
) -> MatrixRun:
    """Run every cell of `spec` (or those matching `only`), then write REPORT.md.

    Repeats of a grid's cells run interleaved (see `perfopt.harness.schedule`).
    """
    progress = progress or Progress()
    all_cells = cells_mod.expand(spec)  # validates before any folder is made
    chosen = _filter(all_cells, only)
    notes: list[str] = []
    out_dir = _choose_out_dir(spec.name, out, resume, runs_root, notes)
    out_dir.mkdir(parents=True, exist_ok=True)
    with _hold_run_folder(out_dir):
        results_path = out_dir / RESULTS_NAME
        results_path.touch()  # so that a run interrupted in its first grid can be resumed
        results.repair_tail(results_path)
        _write_targets(results_path, spec)
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
        progress.begin(len(todo), len(chosen) - len(todo))
        try:
            counts = run_cells(
                todo,
                ctx,
                lambda record: _write(results_path, out_dir, record),
                progress,
                options or ScheduleOptions(),
            )
            if spec.overhead and not _has_overhead(results_path):
                results.append(results_path, _overhead_record(spec, ctx, progress))
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


def _write_targets(results_path: Path, spec: MatrixSpec) -> None:
    """Store the spec's own [[target]] claims, so `perfopt report` judges them again."""
    if not spec.targets:
        return
    from perfopt.harness.user_targets import from_records, to_json

    if from_records(results.load(results_path)) == spec.targets:
        return  # a resumed run: already there
    line = {"schema": results.SCHEMA, "kind": "targets", "matrix": spec.name,
            "targets": to_json(spec.targets)}  # fmt: skip
    results.append(results_path, line)


def _write(results_path: Path, out_dir: Path, record: dict[str, Any]) -> None:
    """Append a cell's line; its saved repeats are then redundant."""
    results.append(results_path, record)
    for path in (out_dir / "cells" / record["cell_id"]).glob("repeat-*.json"):
        path.unlink(missing_ok=True)


def describe_cells(spec: MatrixSpec, only: str | None = None) -> list[str]:
    """One line per cell (grid, id, params, repeats or why it is skipped): --dry-run."""
    chosen = _filter(cells_mod.expand(spec), only)
    lines = []
    for cell in chosen:
        what = f"skipped: {cell.skip}" if cell.skip else f"{cell.repeats} runs"
        lines.append(f"{cell.grid:<22} {cell.cell_id}  {cell.label}  [{what}]")
    runs = sum(c.repeats for c in chosen if not c.skip)
    lines.append(
        f"{len(chosen)} cells ({sum(1 for c in chosen if c.skip)} skipped), {runs} timed runs"
    )
    return lines


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
        return _fresh(runs_root / f"{run_stamp()}-{slug}")
    if out.exists() and any(out.iterdir()):
        fresh = _fresh(out.with_name(f"{out.name}-{run_stamp()}"))
        notes.append(
            f"{out} holds an earlier run; writing to {fresh} instead (--resume continues it)"
        )
        return fresh
    return out


@contextlib.contextmanager
def _hold_run_folder(out_dir: Path) -> Iterator[None]:
    """Lock the run folder for this process; a second matrix there (--resume) is refused.

    Two runs writing one folder would remove each other's work folders mid-run. The lock
    is an flock, released by the kernel if this process dies, so a crash never leaves a
    stale lock behind; the file keeps the holder's pid for the message.
    """
    fh = open(out_dir / ".lock", "a+", encoding="utf-8")  # noqa: SIM115 - held for the run
    try:
        fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        fh.seek(0)
        holder = fh.read().strip() or "unknown"
        fh.close()
        raise UserError(
            f"{out_dir} is in use by a running perfopt matrix (pid {holder}): wait for it to "
            "finish, or choose another --out"
        ) from None
    fh.seek(0)
    fh.truncate()
    fh.write(f"{os.getpid()}\n")
    fh.flush()
    try:
        yield
    finally:
        fh.close()


def _has_overhead(path: Path) -> bool:
    return any(r.get("kind") == "overhead" for r in results.load(path))


def _overhead_record(spec: MatrixSpec, ctx: RunContext, progress: Progress) -> dict[str, Any]:
    env = dict(ctx.environment)
    env["start_utc"] = environment.utc_now()

    def measure() -> dict[str, Any]:
        progress.note("measuring the views' own overhead on a CPU-bound loop")
        return measure_overhead_line()

    line = overhead_line(ctx.cache_dir, ctx.environment, measure)
    if "reused_from" in line:
        progress.note(f"the views' own overhead: reusing this machine's from {line['reused_from']}")
    return {
        "schema": results.SCHEMA,
        "kind": "overhead",
        "matrix": spec.name,
        "overhead": line,
        "environment": env,
    }
