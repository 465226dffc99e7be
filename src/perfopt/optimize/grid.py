"""Timeframe-grid runs: one study per LTF@HTF pair of one symbol, then a comparison.

For each pair, in grid order: the study name comes from --study-template, the storage
from --storage, else $--storage-url-env, else the SQLite file
`studies/<symbol>_<ltf>_<htf>.db`; the trials run on the configured plan or executor
until the study holds --n-trials (independent runs with the same templates and a
shared storage split the work, see perfopt.optimize.quota); the outputs go to
`reports/<timestamp>_<run tag>/` (perfopt.optimize.outputs). --resume-from enqueues
earlier best parameters as each study's first trials. The grid summary compares the
pairs in one table: `grid_summary.json` and `grid_summary.md` in the reports folder
(the latest grid run's; each pair folder keeps its own files).

Every input is checked before the first study starts: grid entries, templates (and
that they give each pair its own study name), features, the resume file, the bars.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from perfopt.errors import UserError
from perfopt.markdown_table import table
from perfopt.optimize.config import OptimizeConfig
from perfopt.optimize.intraday_task import IntradayTask

log = logging.getLogger(__name__)

OBJECTIVES = ("sharpe", "total_return")


@dataclass(frozen=True)
class GridConfig:
    """A timeframe-grid run: `base` holds the plan, storage, search and trial count."""

    base: OptimizeConfig
    symbol: str
    timeframe_grid: str
    study_template: str | None = None  # None: perfopt.intraday.DEFAULT_STUDY_TEMPLATE
    run_tag_template: str | None = None  # None: DEFAULT_RUN_TAG_TEMPLATE
    suffix: str = ""
    top_k: int = 10
    resume_from: Path | None = None
    enable: tuple[str, ...] = ()
    disable: tuple[str, ...] = ()
    signal: str = "rsi"
    objective: str = "sharpe"
    fee: float | None = None  # None: perfopt.intraday.DEFAULT_FEE
    slippage_bps: float | None = None  # None: DEFAULT_SLIPPAGE_BPS
    reports_dir: Path = Path("reports")
    studies_dir: Path = Path("studies")


@dataclass(frozen=True)
class PairPlan:
    """One pair, resolved: its context, names, storage and task."""

    index: int
    context: dict[str, Any]
    study_name: str
    run_tag: str
    sqlite_fallback: Path
    task: IntradayTask


def plan_grid(gcfg: GridConfig) -> tuple[OptimizeConfig, list[PairPlan], list[dict[str, Any]]]:
    """Validate everything; return (validated base config, pairs, resume parameter sets)."""
    from perfopt import intraday as it

    base = gcfg.base.validated()
    if base.mode not in ("trial", "thread"):
        raise UserError(
            f"--parallel-mode {base.mode} spreads a trial's windows over processes; an "
            "intraday trial is one backtest: use --parallel-mode trial (or thread)"
        )
    if not gcfg.symbol.strip():
        raise UserError("--symbol is empty: name the symbol whose bars to use, e.g. BTCUSDT")
    if gcfg.top_k < 1:
        raise UserError(f"--top-k must be at least 1, got {gcfg.top_k}")
    if gcfg.objective not in OBJECTIVES:
        raise UserError(f"unknown --objective {gcfg.objective!r}: use {', '.join(OBJECTIVES)}")
    if gcfg.signal not in it.SIGNALS:
        raise UserError(f"unknown --signal {gcfg.signal!r}: use one of {', '.join(it.SIGNALS)}")
    fee = it.DEFAULT_FEE if gcfg.fee is None else gcfg.fee
    slip = it.DEFAULT_SLIPPAGE_BPS if gcfg.slippage_bps is None else gcfg.slippage_bps
    if not 0 <= fee < 1 or slip < 0:
        raise UserError(f"--fee must be in [0, 1) and --slippage-bps >= 0, got {fee} and {slip}")
    pairs = it.parse_timeframe_grid(gcfg.timeframe_grid)
    features = it.parse_feature_switches(gcfg.enable, gcfg.disable)
    study_t = gcfg.study_template or it.DEFAULT_STUDY_TEMPLATE
    tag_t = gcfg.run_tag_template or it.DEFAULT_RUN_TAG_TEMPLATE
    plans: list[PairPlan] = []
    for index, (ltf, htf) in enumerate(pairs, 1):
        task = IntradayTask.make(
            data_dir=base.data_dir, symbol=gcfg.symbol, ltf=ltf.slug, htf=htf.slug,
            signal=gcfg.signal, features=features, fee=fee, slippage_bps=slip,
            multi_objective=base.multi_objective, objective=gcfg.objective,
            nan_policy=base.nan_policy, nan_penalty=base.nan_penalty,
        )  # fmt: skip
        ctx = it.grid_context(
            gcfg.symbol, ltf, htf, index, len(pairs), gcfg.suffix, settings=task.fingerprint()
        )
        name = it.render_template(study_t, **ctx)
        if "/" in name:
            raise UserError(f"--study-template {study_t!r} gives {name!r}; a name has no '/'")
        plans.append(
            PairPlan(
                index,
                ctx,
                name,
                it.render_template(tag_t, **ctx),
                it.sqlite_study_path(gcfg.symbol, ltf, htf, gcfg.studies_dir),
                task,
            )  # fmt: skip
        )
    names = [p.study_name for p in plans]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise UserError(
            f"--study-template {study_t!r} gives several pairs the study {dupes[0]!r}; "
            "add {ltf_slug} and {htf_slug} (or {index})"
        )
    resume: list[dict[str, Any]] = []
    if gcfg.resume_from is not None:
        from perfopt.optimize.outputs import load_resume_params

        resume = load_resume_params(gcfg.resume_from, it.search_space(gcfg.signal, features))
    # The bars must exist and give every pair at least two HTF bars: fail now, not mid-grid.
    for p in plans:
        p.task.prepare()
    return base, plans, resume


def run_grid(gcfg: GridConfig) -> dict[str, Any]:
    """Run every pair's study, write the pair folders and the grid summary; return it."""
    from perfopt.intraday.grid import pair_folder, run_timestamp
    from perfopt.optimize.api import prepare_storage, run_task, write_json
    from perfopt.optimize.outputs import write_pair_outputs
    from perfopt.optimize.storages import resolve_storage

    base, plans, resume = plan_grid(gcfg)
    stamp = run_timestamp()
    rows: list[dict[str, Any]] = []
    interrupted = False
    for p in plans:
        cfg = replace(base, study_name=p.study_name)
        spec = resolve_storage(
            cfg.storage, cfg.storage_url_env, p.study_name, fallback=p.sqlite_fallback
        )
        warnings = prepare_storage(cfg, spec)
        holder: list[Any] = []
        log.info("pair %d/%d: %s -> study %s", p.index, len(plans), p.task.label, p.study_name)
        summary = run_task(cfg, spec, p.task, warnings, enqueue=tuple(resume), keep_study=holder)
        summary["pair"] = {**p.context, "run_tag": p.run_tag}
        summary["resume_from"] = str(gcfg.resume_from) if gcfg.resume_from else None
        first = summary["first_number"]
        folder = pair_folder(gcfg.reports_dir, stamp, p.run_tag)
        files = write_pair_outputs(folder, summary, holder[0], p.task, gcfg.top_k, first)
        rows.append(_row(p, summary, folder, files))
        if summary["interrupted"]:
            interrupted = True
            break
    grid = {
        "timestamp": stamp,
        "symbol": gcfg.symbol,
        "timeframe_grid": gcfg.timeframe_grid,
        "n_trials": base.n_trials,
        "multi_objective": base.multi_objective,
        "objective": "return,|drawdown|" if base.multi_objective else gcfg.objective,
        "executor": base.executor,
        "interrupted": interrupted,
        "pairs": rows,
    }
    reports = Path(gcfg.reports_dir)
    write_json(reports / "grid_summary.json", grid)
    (reports / "grid_summary.md").write_text(format_grid_markdown(grid) + "\n")
    grid["files"] = {
        "json": str(reports / "grid_summary.json"),
        "markdown": str(reports / "grid_summary.md"),
    }
    return grid


def _row(p: PairPlan, summary: dict[str, Any], folder: Path, files: dict[str, str]) -> dict:
    c = summary["trials"]
    best = summary.get("best")
    front = summary.get("pareto_front")
    return {
        "index": p.index,
        "pair": f"{p.context['ltf_slug']}@{p.context['htf_slug']}",
        "study": p.study_name,
        "storage": summary["storage"],
        "trials": c,
        "study_counted_trials": summary["study_counted_trials"],
        "wall_s": summary["wall_s"],
        "trials_per_s": summary["trials_per_s"],
        "mean_trial_s": summary["trial_s"]["mean"],
        "best_value": best["value"] if best else None,
        "best_params": best["params"] if best else None,
        "pareto_size": len(front) if front is not None else None,
        "pareto_best_return": max((t["values"][0] for t in front), default=None) if front else None,
        "folder": str(folder),
        "files": files,
    }


def _f(x: Any, digits: int = 4) -> str:
    if x is None or (isinstance(x, float) and not math.isfinite(x)):
        return "-"
    return f"{x:.{digits}g}" if isinstance(x, float) else str(x)


def format_grid_table(grid: dict[str, Any]) -> list[str]:
    """The pairs as aligned text rows (header first)."""
    multi = grid["multi_objective"]
    head = ["#", "pair", "study", "done", "trials/s", "mean trial", "wall s"]
    head += ["pareto", "best return"] if multi else [f"best {grid['objective']}"]
    rows = [head]
    for r in grid["pairs"]:
        c = r["trials"]
        row = [
            str(r["index"]), r["pair"], r["study"],
            f"{c['complete'] + c['pruned'] + c['failed']}/{grid['n_trials']}",
            _f(r["trials_per_s"], 3), _f(r["mean_trial_s"], 3), _f(r["wall_s"], 3),
        ]  # fmt: skip
        row += (
            [_f(r["pareto_size"]), _f(r["pareto_best_return"])] if multi else [_f(r["best_value"])]
        )
        rows.append(row)
    return rows


def format_grid_summary(grid: dict[str, Any]) -> str:
    """Plain-text comparison table of the pairs."""
    rows = format_grid_table(grid)
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = [
        f"timeframe grid {grid['timeframe_grid']} for {grid['symbol']}: {len(grid['pairs'])} "
        f"pair(s), objective {grid['objective']}, executor {grid['executor']}"
    ]
    lines += ["  ".join(cell.ljust(w) for cell, w in zip(r, widths, strict=True)) for r in rows]
    if grid["interrupted"]:
        lines.append("interrupted: rerun the same command to resume the studies")
    return "\n".join(lines)


def format_grid_markdown(grid: dict[str, Any]) -> str:
    """The comparison as a Markdown table with the run's settings above it."""
    rows = format_grid_table(grid)
    lines = [
        f"# Timeframe grid {grid['timestamp']}: {grid['symbol']}",
        "",
        f"Grid `{grid['timeframe_grid']}`, {grid['n_trials']} trials per study, objective "
        f"{grid['objective']}, executor {grid['executor']}.",
        "",
        *table(rows[0], rows[1:]),
    ]
    lines += ["", "Pair folders:", ""]
    lines += [f"- {r['pair']}: `{r['folder']}`" for r in grid["pairs"]]
    return "\n".join(lines)
