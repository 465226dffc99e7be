"""The optimizer workload for the harness: one cell = one fresh study run to n_trials.

Data: a generated panel of 100 tickers, 2020-01-01..2024-12-31, in the cache; `tickers`
takes the first N as the universe. Each cell writes its storage file under its workdir
(PostgreSQL cells use a unique study name, deleted afterwards). Defaults (bulk access,
trial mode, 2 forked workers, journal storage, 20 trials, 50 tickers, 4 walk-forward
windows) take a few seconds on the 2-core development machine; naive access costs
about 25 us per query, so keep `tickers` and `n_trials` small with it.

Two more knobs:
- `timeframe_pair` ("none": the daily study above; "1m@15m" ...): the cell runs the
  intraday study of that LTF@HTF pair on generated 1-minute BTCUSDT bars
  (INTRADAY_DAYS days, in the cache), through the timeframe-grid path (tickers, access
  and cv do not apply).
- `executor` ("local" or "dask"): dask runs the trials on a LocalCluster of `n_jobs`
  worker processes (local:N) instead of the trial-process plan.

Importing this module imports neither numpy nor optuna.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar

from perfopt.machine import START_METHODS
from perfopt.optimize.storage_kinds import KIND_NAMES, StorageKind, kind_named
from perfopt.workload import Measurement, Workload

DATA_TICKERS = 100
DATA_START = "2020-01-01"
DATA_END = "2024-12-31"
DATA_SEED = 11
POSTGRES_ENV = "PERFOPT_POSTGRES_URL"
DEFAULT_POSTGRES_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
INTRADAY_SYMBOL = "BTCUSDT"
INTRADAY_DAYS = 14

_postgres_reason: dict[str, str | None] = {}


def data_dir(cache_dir: Path) -> Path:
    """Where the workload's generated panel lives in the cache."""
    return Path(cache_dir) / f"optimize_panel_{DATA_TICKERS}_{DATA_START}_{DATA_END}_s{DATA_SEED}"


def intraday_data_dir(cache_dir: Path) -> Path:
    """Where the workload's generated 1-minute bars live in the cache."""
    return Path(cache_dir) / f"optimize_intraday_{INTRADAY_SYMBOL}_{INTRADAY_DAYS}d"


def postgres_url() -> str:
    """The PostgreSQL URL cells use ($PERFOPT_POSTGRES_URL or the local test database)."""
    return os.environ.get(POSTGRES_ENV) or DEFAULT_POSTGRES_URL


def cell_storage_url(kind: StorageKind, workdir: Path) -> str:
    """A fresh storage of `kind` for one cell: a file in its workdir, or the test server."""
    return kind.workdir_url(workdir) or postgres_url()


def postgres_unreachable() -> str | None:
    """Why PostgreSQL cannot be used, or None (checked once per process)."""
    url = postgres_url()
    if url not in _postgres_reason:
        from perfopt.errors import UserError
        from perfopt.optimize.storages import check_storage, resolve_storage

        try:
            check_storage(resolve_storage(url, POSTGRES_ENV, "probe"), 1)
            _postgres_reason[url] = None
        except (UserError, ImportError) as exc:
            _postgres_reason[url] = str(exc)
    return _postgres_reason[url]


class OptimizeWorkload(Workload):
    """Optuna search: parallel plan x storage x data access x start method."""

    name: ClassVar[str] = "optimize"
    preload: ClassVar[tuple[str, ...]] = ("optuna", "perfopt.optimize", "perfopt.backtest.kernels")
    axes: ClassVar[Mapping[str, list[Any]]] = {
        "mode": ["trial", "backtest", "hybrid", "thread"],
        "storage": list(KIND_NAMES),
        "n_jobs": [1, 2, 4],
        "bt_workers": [1, 2, 4],
        "start_method": list(START_METHODS),
        "access": ["naive", "bulk"],
        "n_trials": [5, 10, 20, 40, 100],
        "tickers": [10, 20, 50, 100],
        "sampler": ["tpe", "random", "cmaes"],
        "seed": [0, 1, 2],
        "cv": ["walk-forward", "purged-kfold"],
        "timeframe_pair": ["none", "1m@15m", "1m@1h", "5m@15m", "5m@1h", "15m@4h"],
        "executor": ["local", "dask"],
    }
    problem_axes: ClassVar[Mapping[str, str]] = {
        "n_trials": "a different number of trials",
        "tickers": "a different universe",
        "sampler": "a different search",
        "seed": "a different random draw",
        "cv": "a different validation scheme",
        "timeframe_pair": "a different pair of timeframes",
        "storage=memory": "in-memory storage keeps nothing after the run and cannot be "
        "shared by worker processes",
    }
    defaults: ClassVar[Mapping[str, Any]] = {
        "mode": "trial",
        "storage": "journal",
        "n_jobs": 2,
        "bt_workers": 1,
        "start_method": "fork",
        "access": "bulk",
        "n_trials": 20,
        "tickers": 50,
        "sampler": "tpe",
        "seed": 0,
        "cv": "walk-forward",
        "timeframe_pair": "none",
        "executor": "local",
    }

    def skip_reason(self, params: Mapping[str, Any]) -> str | None:
        """Refuse combinations the optimizer itself would refuse, with its reason."""
        from perfopt.optimize.config import physical_cores

        p = {**self.defaults, **params}
        mode, n_jobs, bt = p["mode"], p["n_jobs"], p["bt_workers"]
        if p["start_method"] not in multiprocessing.get_all_start_methods():
            return f"start method {p['start_method']} is not available on this OS"
        if mode == "backtest" and n_jobs != 1:
            return "backtest mode runs trials one at a time: n_jobs must be 1 (use hybrid)"
        if mode in ("trial", "thread") and bt != 1:
            return f"bt_workers applies to backtest and hybrid modes, not {mode}"
        kind = kind_named(p["storage"])
        if not kind.multi_process and mode in ("trial", "hybrid") and n_jobs > 1:
            return "in-memory storage lives in one process; trial workers need a shared storage"
        cores = physical_cores()
        if mode == "hybrid" and n_jobs * bt > cores:
            return f"hybrid oversubscription: {n_jobs} x {bt} processes > {cores} physical cores"
        if p["executor"] == "dask":
            if mode != "trial":
                return "the dask executor runs trials as tasks: mode must be trial"
            if not kind.multi_process:
                return "dask workers are other processes: they need a shared storage"
            try:
                import distributed  # noqa: F401
            except ImportError:
                return "the dask executor needs dask.distributed (pip install distributed)"
        if p["timeframe_pair"] != "none":
            if mode not in ("trial", "thread"):
                return f"an intraday trial is one backtest: mode {mode} does not apply"
            if p["access"] == "naive":
                return "naive access is the daily panel's SQLite pattern, not intraday bars"
        if kind.server:
            reason = postgres_unreachable()
            if reason:
                return f"postgresql unreachable: {reason}"
        return None

    def prepare(self, params: Mapping[str, Any], cache_dir: Path) -> None:
        """Generate the panel (or the intraday bars) into the cache unless already there."""
        p = {**self.defaults, **params}
        if p["timeframe_pair"] != "none":
            self._prepare_intraday(cache_dir)
            return
        from perfopt.data import generate_panel, write_panel

        folder = data_dir(cache_dir)
        if (folder / "prices.sqlite").exists():
            return
        tmp = folder.with_name(folder.name + f".tmp{os.getpid()}")
        write_panel(generate_panel(DATA_TICKERS, DATA_START, DATA_END, seed=DATA_SEED), tmp)
        try:
            tmp.rename(folder)
        except OSError:  # another process finished first: theirs is identical
            import shutil

            shutil.rmtree(tmp, ignore_errors=True)

    def _prepare_intraday(self, cache_dir: Path) -> None:
        from perfopt.intraday import write_intraday

        folder = intraday_data_dir(cache_dir)
        if folder.is_dir():
            return
        tmp = folder.with_name(folder.name + f".tmp{os.getpid()}")
        write_intraday(tmp, [INTRADAY_SYMBOL], days=INTRADAY_DAYS)
        try:
            tmp.rename(folder)
        except OSError:  # another process finished first: theirs is identical
            import shutil

            shutil.rmtree(tmp, ignore_errors=True)

    def run(self, params: Mapping[str, Any], cache_dir: Path, workdir: Path) -> Measurement:
        """Run a fresh study to n_trials and report throughput and per-trial costs."""
        from perfopt.optimize.api import run_optimize
        from perfopt.optimize.config import OptimizeConfig

        p = {**self.defaults, **params}
        workdir = Path(workdir)
        workdir.mkdir(parents=True, exist_ok=True)
        study = f"cell-{uuid.uuid4().hex[:12]}"
        kind = kind_named(p["storage"])
        url = cell_storage_url(kind, workdir)
        dask = p["executor"] == "dask"
        cfg = OptimizeConfig(
            data_dir=data_dir(cache_dir),
            start="2021-01-01",
            end="2024-12-31",
            n_trials=int(p["n_trials"]),
            study_name=study,
            storage=url,
            mode=p["mode"],
            n_jobs=1 if dask else int(p["n_jobs"]),
            bt_workers=int(p["bt_workers"]),
            start_method=p["start_method"],
            access=p["access"],
            n_tickers=int(p["tickers"]),
            sampler=p["sampler"],
            seed=int(p["seed"]),
            cv=p["cv"],
            executor=p["executor"],
            dask_scheduler=f"local:{int(p['n_jobs'])}" if dask else None,
        )
        try:
            if p["timeframe_pair"] == "none":
                summary = run_optimize(cfg, summary_json=workdir / "summary.json")
            else:
                summary = self._run_pair(cfg, p["timeframe_pair"], cache_dir, workdir, study)
        finally:
            if kind.server:  # nothing is left in the workdir: tidy the server
                _delete_study(study, url)
        c = summary["trials"]
        metrics = {
            "trials_per_s": summary["trials_per_s"],
            "mean_trial_s": summary["trial_s"]["mean"],
            "p50_trial_s": summary["trial_s"]["p50"],
            "p90_trial_s": summary["trial_s"]["p90"],
            "io_ratio": summary["io_ratio"],
            "storage_s_per_trial": summary["storage_s_per_trial"],
            "complete": c["complete"],
            "pruned": c["pruned"],
            "failed": c["failed"],
            "lost": c["lost"],
            "surplus": c.get("surplus", 0),
            # Dask only: submit-to-result time minus the task's own time, per trial.
            "dispatch_s_per_trial": (summary.get("dask") or {}).get("dispatch_s_per_trial"),
        }
        # "total" is the objective's own sum of data/signals/returns/metrics: the parts
        # are the stages (summed over every worker's trials)
        stages = {k: v for k, v in summary["stage_s"].items() if k != "total"}
        return Measurement(
            seconds=summary["wall_s"],
            stages=stages,
            metrics={k: (float("nan") if v is None else float(v)) for k, v in metrics.items()},
            info={
                "storage": summary["storage"],
                "plan": summary["plan"],
                "thread_pools": summary["thread_pools"],
                "workers": summary["workers"],
                "pool": summary["pool"],
                "best": summary["best"],
                "pareto_front": summary.get("pareto_front"),
                "dask": summary.get("dask"),
                "task": summary.get("task"),
                "storage_s_per_trial_means": (
                    "per trial: summed optimize-loop time of all workers minus summed objective "
                    "time (storage reads/writes plus sampler)"
                ),
            },
        )

    @staticmethod
    def _run_pair(
        cfg: Any, pair: str, cache_dir: Path, workdir: Path, study: str
    ) -> dict[str, Any]:
        """One timeframe-grid pair through the grid path; its summary.json as a dict."""
        import json
        from dataclasses import replace

        from perfopt.optimize.grid import GridConfig, run_grid

        grid = run_grid(
            GridConfig(
                base=replace(cfg, data_dir=intraday_data_dir(cache_dir)),
                symbol=INTRADAY_SYMBOL,
                timeframe_grid=pair,
                study_template=study,
                reports_dir=workdir / "reports",
                studies_dir=workdir / "studies",
            )
        )
        return json.loads(Path(grid["pairs"][0]["files"]["summary"]).read_text())


def _delete_study(study: str, url: str) -> None:
    import optuna

    from perfopt.optimize.storages import open_storage, resolve_storage

    with contextlib.suppress(KeyError):
        optuna.delete_study(study_name=study, storage=open_storage(resolve_storage(url, "", study)))
