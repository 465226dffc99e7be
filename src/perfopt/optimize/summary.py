"""End-of-run summary: counts, throughput, trial-time percentiles, IO ratio, overheads.

Built from the trials this run started (those whose `run_id` attribute is this run's:
other runs sharing the study have their own) and the plan's worker reports, beside
the study's totals: counted trials, and counted trials that repeated the parameters of
an earlier one (`duplicate_params`, for the study and for this run). `storage_s_per_trial` is Optuna's time per trial outside the objective's
own work: the summed optimize-loop time of every worker minus the summed trial `total`
timers, divided by the trials run. It holds storage reads and writes and the sampler's
suggestion time (the in-memory storage run gives that sampler-only floor).
"""

from __future__ import annotations

import math
from typing import Any

from perfopt.heap import describe_heap
from perfopt.optimize.config import OptimizeConfig
from perfopt.optimize.plans import PlanResult
from perfopt.optimize.storages import StorageSpec
from perfopt.units import MISSING, fmt_duration, is_missing
from perfopt.urls import mask_url


def _percentile(values: list[float], q: float) -> float:
    if not values:
        return math.nan
    ordered = sorted(values)
    pos = (len(ordered) - 1) * q
    lo, hi = math.floor(pos), math.ceil(pos)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (pos - lo)


def summarize(
    cfg: OptimizeConfig,
    spec: StorageSpec,
    study: Any,
    first_number: int,
    wall_s: float,
    plan: PlanResult,
    warnings: list[str],
    task: Any = None,
) -> dict[str, Any]:
    """The run's summary as JSON-ready values (URLs masked).

    `best` is the best trial of a single-objective study, `pareto_front` the trials on
    the Pareto front (`study.best_trials`) of a multi-objective one.
    """
    from optuna.trial import TrialState

    from perfopt.optimize.studies import counted_trials, counts_toward_target, duplicate_params

    everything = study.get_trials(deepcopy=False)
    trials = [t for t in everything if t.user_attrs.get("run_id") == cfg.run_id]
    dupes = duplicate_params(everything)
    finished = [t for t in trials if t.state.is_finished()]
    counts = {
        "complete": sum(t.state == TrialState.COMPLETE for t in trials),
        "pruned": sum(t.state == TrialState.PRUNED for t in trials),
        "failed": sum(t.state == TrialState.FAIL and counts_toward_target(t) for t in trials),
        "lost": sum(
            t.state == TrialState.FAIL
            and not counts_toward_target(t)
            and not t.user_attrs.get("interrupted")
            and "surplus" not in t.user_attrs
            for t in trials
        ),
        "surplus": sum("surplus" in t.user_attrs for t in trials),
        "interrupted": sum(bool(t.user_attrs.get("interrupted")) for t in trials),
        "waiting": sum(t.state == TrialState.WAITING for t in trials),
        "running": sum(t.state == TrialState.RUNNING for t in trials),
    }
    counted_run = counts["complete"] + counts["pruned"] + counts["failed"]
    timed = [t.user_attrs["timers"] for t in finished if "timers" in t.user_attrs]
    totals = [tm["total"] for tm in timed]
    names = stage_names(timed)
    stage_sums = {name: sum(tm.get(name, 0.0) for tm in timed) for name in names}
    loop_total = sum(plan.loop_s)
    storage_s = (loop_total - stage_sums["total"]) / len(timed) if timed and plan.loop_s else None
    best, pareto = best_of(study)
    thread_pools = {str(w.get("pid")): w.get("thread_pools") for w in plan.workers}
    # What the processes that ran trials got (the same everywhere unless their
    # environments differ: a cluster's workers); before any worker reported, the plan.
    heaps = [w["heap"] for w in plan.workers if w.get("heap")]
    heap = heaps[0] if heaps else describe_heap(cfg.heap).as_dict()
    if plan.pool:
        for pid, info in plan.pool.get("workers", {}).items():
            thread_pools[pid] = info.get("thread_pools")
    return {
        "study": cfg.study_name,
        "run_id": cfg.run_id,
        "task": task.label if task is not None else None,
        "directions": [d.name.lower() for d in study.directions],
        "storage": spec.describe(),
        "plan": cfg.plan(),
        "n_trials": cfg.n_trials,
        "first_number": first_number,
        "study_counted_trials": counted_trials(study),
        "duplicate_params": {
            "study": len(dupes),
            "this_run": sum(t.number in dupes for t in trials),
        },
        "trials": counts,
        "wall_s": wall_s,
        "trials_per_s": counted_run / wall_s if wall_s > 0 else math.nan,
        "trial_s": {
            "mean": sum(totals) / len(totals) if totals else math.nan,
            "p50": _percentile(totals, 0.5),
            "p90": _percentile(totals, 0.9),
        },
        "stage_s": stage_sums,
        "stage_p50_p90_s": {
            name: [
                _percentile([tm.get(name, 0.0) for tm in timed], 0.5),
                _percentile([tm.get(name, 0.0) for tm in timed], 0.9),
            ]
            for name in names
        },
        # A user objective without a "data" stage has no IO ratio to tell (not 0).
        "io_ratio": stage_sums["data"] / stage_sums["total"]
        if stage_sums["total"] and "data" in stage_sums
        else math.nan,
        "storage_s_per_trial": storage_s,
        "heap": heap,
        "thread_pools": thread_pools,
        "workers": [
            {
                k: w[k]
                for k in (
                    "index",
                    "pid",
                    "host",
                    "ready_s",
                    "load_s",
                    "warmup_s",
                    "prebuilt",
                    "heap",
                    "loop_s",
                    "environ_at_start",
                )
                if k in w
            }  # fmt: skip
            for w in plan.workers
        ],
        # Built once by the supervisor before forking; workers' load_s/warmup_s are its.
        "prebuilt": plan.prebuilt,
        "pool": None if not plan.pool else {k: v for k, v in plan.pool.items() if k != "workers"},
        "lost_workers": [
            {k: w.get(k) for k in ("index", "pid", "signal")} for w in plan.lost_workers
        ],
        "failed_by_supervisor": plan.failed_by_supervisor,
        "interrupted": plan.interrupted,
        "best": best,
        "pareto_front": pareto,
        "dask": plan.dask,
        "warnings": [mask_url(w) for w in warnings],
    }


BUILTIN_STAGES = ("data", "signals", "returns", "metrics")


def stage_names(timers: list[dict[str, float]]) -> list[str]:
    """Stage names of the trials' timers in first-seen order, then total and optuna.

    The built-in objectives always list their four stages; a user objective lists the
    `perfopt.stage` names it used.
    """
    seen: dict[str, None] = {}
    for tm in timers:
        seen.update(dict.fromkeys(k for k in tm if k not in ("total", "optuna")))
    names = list(seen) if timers else list(BUILTIN_STAGES)
    return [*names, "total", "optuna"]


def best_of(study: Any) -> tuple[dict[str, Any] | None, list[dict[str, Any]] | None]:
    """(best trial, None) of a single-objective study; (None, Pareto front) otherwise."""
    from optuna.trial import TrialState

    completed = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
    if not completed:
        return None, [] if len(study.directions) > 1 else None
    if len(study.directions) > 1:
        front = sorted(study.best_trials, key=lambda t: t.number)
        return None, [{"number": t.number, "values": t.values, "params": t.params} for t in front]
    top = study.best_trial
    return {"number": top.number, "value": top.value, "params": top.params}, None


def _fmt(x: float | None, unit: str = "s") -> str:
    if is_missing(x):
        return MISSING
    if unit == "s":
        return fmt_duration(x)
    return f"{x:.3g}"


def _dupes_text(dupes: dict[str, int] | None) -> str:
    if dupes is None:  # a summary written before duplicates were counted
        return ""
    if not dupes["study"]:
        return "; no duplicated parameter sets"
    return (
        f"; {dupes['study']} trial(s) repeated an earlier parameter set "
        f"({dupes['this_run']} of this run)"
    )


def format_summary(summary: dict[str, Any]) -> str:
    """Human-readable lines of a summary."""
    c = summary["trials"]
    plan = summary["plan"]
    lines = [
        f"study {summary['study']} on {summary['storage']['kind']} {summary['storage']['url']}",
        f"plan: {plan['mode']} n_jobs={plan['n_jobs']} bt_workers={plan['bt_workers']} "
        f"start={plan['start_method']} blas_threads={plan['blas_threads']} access={plan['access']} "
        f"sampler={plan['sampler']} pruner={plan['pruner']} cv={plan['cv']}"
        + (f" executor=dask at {plan['dask_scheduler']}" if plan.get("executor") == "dask" else "")
        + (f" executor=ray at {plan.get('ray_address')}" if plan.get("executor") == "ray" else ""),
        f"trials this run: {c['complete']} complete, {c['pruned']} pruned, {c['failed']} failed"
        + (f", {c['lost']} lost to dead workers" if c["lost"] else "")
        + (f", {c['interrupted']} interrupted" if c["interrupted"] else "")
        + (
            f", {c['surplus']} surplus (another process took the last place)"
            if c.get("surplus")
            else ""
        )
        + f"; study total {summary['study_counted_trials']}/{summary['n_trials']}"
        + _dupes_text(summary.get("duplicate_params")),
        f"run {summary.get('run_id')}: seed {plan['seed']}"
        + (" (drawn for this run)" if plan.get("seed_given") is None else ""),
        f"wall {_fmt(summary['wall_s'])}, {summary['trials_per_s']:.3g} trials/s; trial time "
        f"mean {_fmt(summary['trial_s']['mean'])}, p50 {_fmt(summary['trial_s']['p50'])}, "
        f"p90 {_fmt(summary['trial_s']['p90'])}",
        "stages (summed): "
        + ", ".join(f"{k} {_fmt(v)}" for k, v in summary["stage_s"].items())
        + f"; IO ratio {_fmt(summary['io_ratio'], '')}",
        f"Optuna overhead (storage + sampler) per trial: {_fmt(summary['storage_s_per_trial'])}",
        _heap_text(summary.get("heap")),
        "thread pools: "
        + "; ".join(
            f"pid {pid}: " + ", ".join(f"{k}={v}" for k, v in (pools or {}).items())
            for pid, pools in summary["thread_pools"].items()
        ),
    ]
    if summary.get("pareto_front"):
        front = summary["pareto_front"]
        lines.append(
            f"Pareto front: {len(front)} trial(s); "
            + "; ".join(
                f"#{t['number']} ({', '.join(f'{v:.4g}' for v in t['values'])})" for t in front[:5]
            )
            + (" ..." if len(front) > 5 else "")
        )
    if summary["best"]:
        b = summary["best"]
        params = ", ".join(
            f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in b["params"].items()
        )
        lines.append(f"best: trial {b['number']} value {b['value']:.4f} ({params})")
    if summary["lost_workers"]:
        lines.append(
            "workers lost: "
            + ", ".join(f"pid {w['pid']} (signal {w['signal']})" for w in summary["lost_workers"])
        )
    if summary["interrupted"]:
        lines.append("interrupted: rerun the same command to resume the study")
    if summary.get("dask"):
        d = summary["dask"]
        lines.append(
            f"{d.get('executor', 'dask')}: {d['workers']} worker slot(s), {d['tasks']} tasks, "
            f"{len(d['lost_tasks'])} lost; between tasks on a worker "
            f"{_fmt(d['dispatch_s_per_trial'])}, result to driver {_fmt(d['result_latency_s'])}"
        )
    lines += [f"warning: {w}" for w in summary["warnings"]]
    return "\n".join(lines)


def _heap_text(heap: dict[str, Any] | None) -> str:
    """The summary's heap line: the mode and what took effect."""
    if not heap:
        return "heap: not recorded"
    if heap["applied"] or heap["mode"] == "system":
        return f"heap: {heap['mode']} ({heap['detail']})"
    return f"heap: {heap['mode']} not applied ({heap['detail']})"
