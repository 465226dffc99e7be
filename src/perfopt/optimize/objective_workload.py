"""The harness workload `objective`: a user's own Optuna objective, one fresh study per cell.

A matrix file names it with the objective's SPEC on the grid:

    [[grid]]
    workload = "objective"
    objective = "my_objective.py:objective"     # relative to the TOML file
    fixed = { direction = "maximize", n_trials = 40 }
    axes = { mode = ["trial", "thread"], n_jobs = [1, 2], storage = ["journal", "sqlite"] }

Each cell runs `perfopt optimize --objective SPEC` in the cell's process with the cell's
plan, on a storage under its workdir (PostgreSQL cells: a unique study, deleted
afterwards), and reports the run's summary as metrics: trials_per_s, trial-time
percentiles, IO ratio, Optuna's cost per trial, counts. Its stages are the objective's
own `perfopt.stage` sums. Importing this module imports neither numpy nor optuna.
"""

from __future__ import annotations

import multiprocessing
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar

from perfopt.machine import START_METHODS
from perfopt.optimize.storage_kinds import KIND_NAMES, kind_named
from perfopt.workload import Measurement, Workload


class ObjectiveWorkload(Workload):
    """A user objective under perfopt's plans: mode x n_jobs x start method x storage."""

    name: ClassVar[str] = "objective"
    preload: ClassVar[tuple[str, ...]] = ("optuna", "perfopt.optimize")
    axes: ClassVar[Mapping[str, list[Any]]] = {
        "objective": [],  # any SPEC
        "objective_setup": [],
        "direction": ["minimize", "maximize"],
        "mode": ["trial", "thread"],
        "storage": list(KIND_NAMES),
        "n_jobs": [1, 2, 4],
        "start_method": list(START_METHODS),
        "blas_threads": [1, 2, 4],
        "n_trials": [10, 20, 40, 100],
        "sampler": ["tpe", "random", "cmaes"],
        "pruner": ["none", "median", "hyperband", "asha"],
        "seed": [0, 1, 2],
    }
    problem_axes: ClassVar[Mapping[str, str]] = {
        "objective": "a different objective",
        "objective_setup": "a different setup",
        "direction": "a different search",
        "n_trials": "a different number of trials",
        "sampler": "a different search",
        "pruner": "a different search (pruned trials stop early)",
        "seed": "a different random draw",
        "storage=memory": "in-memory storage keeps nothing after the run and cannot be "
        "shared by worker processes",
    }
    defaults: ClassVar[Mapping[str, Any]] = {
        "objective_setup": "",
        "direction": "minimize",
        "mode": "trial",
        "storage": "journal",
        "n_jobs": 2,
        "start_method": "fork",
        "blas_threads": 0,  # 0: perfopt's default (1 per worker process, untouched in thread)
        "n_trials": 20,
        "sampler": "tpe",
        "pruner": "none",
        "seed": 0,
    }

    def skip_reason(self, params: Mapping[str, Any]) -> str | None:
        """Refuse what `perfopt optimize --objective` would refuse, with its reason."""
        from perfopt.optimize.workload import postgres_unreachable

        p = {**self.defaults, **params}
        if p["start_method"] not in multiprocessing.get_all_start_methods():
            return f"start method {p['start_method']} is not available on this OS"
        kind = kind_named(p["storage"])
        if not kind.multi_process and p["mode"] == "trial" and int(p["n_jobs"]) > 1:
            return "in-memory storage lives in one process; trial workers need a shared storage"
        if kind.server:
            reason = postgres_unreachable()
            if reason:
                return f"postgresql unreachable: {reason}"
        return None

    def run(self, params: Mapping[str, Any], cache_dir: Path, workdir: Path) -> Measurement:
        """Run a fresh study of the objective to n_trials; the summary's figures."""
        from perfopt.optimize.config import OptimizeConfig
        from perfopt.optimize.user_objective import UserTask, run_user_objective
        from perfopt.optimize.workload import _delete_study, cell_storage_url

        p = {**self.defaults, **params}
        if "objective" not in p:
            from perfopt.errors import UserError

            raise UserError('workload "objective" needs objective = "path.py:function"')
        workdir = Path(workdir)
        workdir.mkdir(parents=True, exist_ok=True)
        study = f"cell-{uuid.uuid4().hex[:12]}"
        kind = kind_named(p["storage"])
        url = cell_storage_url(kind, workdir)
        task = UserTask(p["objective"], p["objective_setup"] or None, (p["direction"],))
        cfg = OptimizeConfig(
            data_dir=workdir,
            n_trials=int(p["n_trials"]),
            study_name=study,
            storage=url,
            mode=p["mode"],
            n_jobs=int(p["n_jobs"]),
            start_method=p["start_method"],
            blas_threads=int(p["blas_threads"]) or None,
            sampler=p["sampler"],
            pruner=p["pruner"],
            seed=int(p["seed"]),
        )
        try:
            summary = run_user_objective(cfg, task, summary_json=workdir / "summary.json")
        finally:
            if kind.server:  # nothing is left in the workdir: tidy the server
                _delete_study(study, url)
        return measurement(summary)


def measurement(summary: Mapping[str, Any]) -> Measurement:
    """A run summary as a Measurement: throughput, trial times, Optuna's cost, counts."""
    c = summary["trials"]
    metrics = {
        "trials_per_s": summary["trials_per_s"],
        "mean_trial_s": summary["trial_s"]["mean"],
        "p50_trial_s": summary["trial_s"]["p50"],
        "p90_trial_s": summary["trial_s"]["p90"],
        "io_ratio": summary["io_ratio"],
        "storage_s_per_trial": summary["storage_s_per_trial"],
        "startup_s": max((w.get("ready_s") or 0.0 for w in summary["workers"]), default=0.0),
        "complete": c["complete"],
        "pruned": c["pruned"],
        "failed": c["failed"],
        "lost": c["lost"],
    }
    stages = {k: v for k, v in summary["stage_s"].items() if k != "total"}
    return Measurement(
        seconds=summary["wall_s"],
        stages=stages,
        metrics={k: (float("nan") if v is None else float(v)) for k, v in metrics.items()},
        info={
            "objective": summary.get("objective"),
            "storage": summary["storage"],
            "plan": summary["plan"],
            "thread_pools": summary["thread_pools"],
            "workers": summary["workers"],
            "best": summary["best"],
        },
    )
