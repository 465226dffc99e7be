"""REPORT.md from results.jsonl: a pure function of the file (re-rendering is identical).

Order: environment, target verdicts, recommendations (fastest plan per grid against its
default), one section per workload (table, timing warnings, plots, the three
attribution views side by side with a note where they disagree), cells that did not
run, and the views' own overhead. This module assembles the document; the sections are
written by `report_sections` (workloads) and `verdict_sections` (what is judged).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from perfopt.harness import records as records_mod
from perfopt.harness.markdown import number, size, table
from perfopt.harness.records import CellRecord, Results
from perfopt.harness.report_sections import workload_section
from perfopt.harness.results import TERMINAL
from perfopt.harness.targets import TARGETS
from perfopt.harness.verdict_sections import (
    overhead_section,
    recommendations_section,
    targets_section,
)
from perfopt.units import fmt_duration
from perfopt.urls import mask_url


def write_report(
    results_path: Path,
    out_dir: Path | None = None,
    benchmark_json: Sequence[Path] = (),
    asv_results: Path | None = None,
) -> Path:
    """Render REPORT.md (and plots) for a results file; return the report's path.

    `benchmark_json` (pytest-benchmark files) and `asv_results` (an asv results folder)
    add a section on perfopt's own speed beside the matrix verdicts.
    """
    from perfopt.harness.selfspeed import load_asv_results, load_pytest_benchmark, render_selfspeed

    pytest_runs = [load_pytest_benchmark(Path(p)) for p in benchmark_json]
    asv = load_asv_results(Path(asv_results)) if asv_results is not None else None
    results = records_mod.load(Path(results_path))
    out_dir = Path(out_dir) if out_dir is not None else Path(results_path).parent
    out_dir.mkdir(parents=True, exist_ok=True)
    from perfopt.harness.plots import write_plots

    plots = write_plots(results.cells, out_dir / "plots")
    plot_links = {w: [p.relative_to(out_dir).as_posix() for p in ps] for w, ps in plots.items()}
    selfspeed = render_selfspeed(pytest_runs, asv)
    text = render_results(results, Path(results_path).name, plot_links, selfspeed)
    path = out_dir / "REPORT.md"
    path.write_text(text, encoding="utf-8")
    return path


def render(
    records: Sequence[dict[str, Any]],
    results_name: str = "results.jsonl",
    plot_links: Mapping[str, Sequence[str]] | None = None,
    selfspeed: Sequence[str] = (),
) -> str:
    """Return the markdown report for result lines (already loaded and migrated)."""
    return render_results(records_mod.from_lines(records), results_name, plot_links, selfspeed)


def render_results(
    results: Results,
    results_name: str = "results.jsonl",
    plot_links: Mapping[str, Sequence[str]] | None = None,
    selfspeed: Sequence[str] = (),
) -> str:
    """Return the markdown report for typed results.

    `selfspeed` is the already-rendered section on perfopt's own speed (selfspeed.py).
    """
    cells = results.cells
    plot_links = plot_links or {}
    out: list[str] = [f"# perfopt report: {results.matrix}\n"]
    out.extend(_summary(cells, results_name))
    out.extend(_environment(cells))
    out.extend(targets_section(cells, _targets(results)))
    out.extend(selfspeed)
    out.extend(recommendations_section(cells))
    for workload in dict.fromkeys(c.workload for c in cells):  # in the order they ran
        out.extend(workload_section(workload, cells, plot_links.get(workload, [])))
    out.extend(_not_run(cells))
    out.extend(overhead_section(results.overhead))
    return mask_url("\n".join(out).rstrip() + "\n")


def _targets(results: Results) -> Any:
    """The claims to judge: a user matrix's own [[target]]s beside the built-in claims
    about the workloads it ran; the built-in claims alone otherwise."""
    from perfopt.harness.registry import is_builtin
    from perfopt.harness.user_targets import from_records

    own = from_records(results.lines)
    ran = {c.workload for c in results.cells}
    if not own and all(is_builtin(w) and w != "objective" for w in ran):
        return TARGETS
    builtin = tuple(t for t in TARGETS if any(p.workload in ran for p in t.parts))
    return (*own, *builtin)


def _summary(cells: Sequence[CellRecord], results_name: str) -> list[str]:
    counts: dict[str, int] = {}
    for c in cells:
        counts[c.status] = counts.get(c.status, 0) + 1
    parts = ", ".join(f"{counts[s]} {s}" for s in TERMINAL if s in counts)
    starts = sorted(s for c in cells if (s := c.environment.get("start_utc")))
    when = f"; cells started {starts[0]} to {starts[-1]} (UTC)" if starts else ""
    return [
        f"Rendered from `{results_name}`: {len(cells)} cells ({parts or 'none'}){when}.\n",
        *_run_costs(cells),
    ]


def _run_costs(cells: Sequence[CellRecord]) -> list[str]:
    """Where the run's own time went: the measured work against starting and ending runs."""
    runs = [r for c in cells for r in c.runs if r.started is not None]
    if not runs:
        return []  # written before runs kept their start-up and exit times
    forked = sum(r.started == "fork" for r in runs)
    measured = sum(r.seconds for r in runs)
    startup = sum(r.startup_s or 0.0 for r in runs)
    exits = sum(r.exit_s or 0.0 for r in runs)
    how = f"{forked} forked from a warm launcher, {len(runs) - forked} started as new interpreters"
    return [
        f"{len(runs)} timed runs: {fmt_duration(measured)} measured; {fmt_duration(startup)} from "
        f"starting their processes to their \"ready\" (imports and prepare; {how}) and "
        f"{fmt_duration(exits)} from \"done\" to their exit, none of it timed.\n"
    ]


def _environment(cells: Sequence[CellRecord]) -> list[str]:
    if not cells:
        return []
    env = cells[0].environment
    py = env.get("python") or {}
    gpu = ", ".join(g.get("name", "?") for g in env.get("gpu") or []) or "none"
    pkgs = ", ".join(f"{k} {v}" for k, v in sorted((env.get("packages") or {}).items()) if v)
    git = env.get("git") or {}
    commit = (git.get("commit") or "unknown")[:12] + (
        " (uncommitted changes)" if git.get("dirty") else ""
    )
    ram = env.get("ram_bytes")
    rows = [
        (
            "CPU",
            f"{env.get('cpu_model', '?')}: {env.get('cores_physical', '?')} physical / "
            f"{env.get('cores_logical', '?')} logical cores, {env.get('cores_available', '?')} available",
        ),
        (
            "CPU features",
            ", ".join(env["cpu_features"]) or "none of avx2/avx512/bf16/amx"
            if isinstance(env.get("cpu_features"), list)
            else "not recorded",
        ),
        ("RAM", size(ram) if ram else "?"),
        ("GPU", gpu),
        (
            "Python",
            f"{py.get('implementation', '?')} {py.get('version', '?')} ({py.get('build', '?')}, "
            f"{'optimized' if py.get('optimized') else 'not an optimized'} build)",
        ),
        ("OS", env.get("os", "?")),
        ("Host", env.get("hostname", "?")),
        ("Commit", commit),
        ("Packages", pkgs or "?"),
    ]
    lines = ["## Environment\n", *table(["", ""], rows)]
    # the host key's fields, without its core count: the environment names the machine
    distinct = sorted({(c.host.host, c.host.commit) for c in cells})
    if len(distinct) > 1:
        lines.append(
            f"\nThese results come from {len(distinct)} host/commit pairs: "
            + "; ".join(f"{h} @ {c[:12]}" for h, c in distinct)
            + ". Compare cells from the same pair only."
        )
    return [*lines, ""]


def _not_run(cells: Sequence[CellRecord]) -> list[str]:
    bad = [c for c in cells if not c.ok]
    if not bad:
        return []
    rows = []
    for c in bad:
        reason = (c.error or "").strip().splitlines()
        rows.append([f"`{c.cell_id}`", c.workload, c.label, c.status, reason[0] if reason else "-"])
    header = ["cell", "workload", "params", "status", "reason"]
    return ["## Cells that failed, timed out or were skipped\n", *table(header, rows), ""]


def _num(x: Any) -> str:
    """One formatter for every table: a NaN or missing metric reads "-", never "nan"."""
    return number(x)
