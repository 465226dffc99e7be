"""Optimizer settings and the checks that run before any work starts.

This module imports nothing heavy (no numpy, no optuna): worker processes unpickle an
`OptimizeConfig` before their thread caps are in place, so it must not load BLAS.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from pathlib import Path

from perfopt.errors import UserError
from perfopt.heap import HEAP_MODES
from perfopt.machine import START_METHODS, physical_cores
from perfopt.optimize.cluster_address import check_ray, parse_scheduler
from perfopt.optimize.studies import new_run_id, run_seed

MODES = ("trial", "backtest", "hybrid", "thread")
ACCESS = ("naive", "bulk")
SOURCES = ("sqlite", "hdf5")
SAMPLERS = ("tpe", "tpe-multivariate", "random", "cmaes", "nsga2")
PRUNERS = ("none", "median", "hyperband", "asha")
CV_KINDS = ("walk-forward", "purged-kfold")
NAN_POLICIES = ("fail", "penalty")
EXECUTORS = ("local", "dask", "ray")
BT_POOLS = ("process", "thread")
# (total_return, |max_drawdown|): perfopt.intraday.MULTI_OBJECTIVE_DIRECTIONS, kept here
# because importing perfopt.intraday loads numpy (worker processes unpickle this first).
MULTI_DIRECTIONS: tuple[str, str] = ("maximize", "minimize")
DEFAULT_STORAGE_ENV = "OPTUNA_STORAGE_URL"


@dataclass(frozen=True)
class Window:
    """Rows [first, last] of the calendar are evaluated; rows from `span_start` are read."""

    label: str
    span_start: int
    first: int
    last: int

    @property
    def n_rows(self) -> int:
        """Rows read for this window (history included)."""
        return self.last - self.span_start + 1


@dataclass(frozen=True)
class SearchSpace:
    """Ranges of the strategy parameters (defaults: docs/workloads.md)."""

    lookback: tuple[int, int] = (20, 250)
    vol_window: tuple[int, int] = (20, 120)
    w_mom: tuple[float, float] = (0.0, 1.0)
    w_vol: tuple[float, float] = (0.0, 1.0)
    w_rsi: tuple[float, float] = (0.0, 1.0)
    top_k: tuple[int, int] = (5, 50)


@dataclass(frozen=True)
class OptimizeConfig:
    """One optimizer run: data, windows, search, parallel plan, storage, faults."""

    data_dir: Path
    start: str = "2021-01-01"
    end: str = "2024-12-31"
    n_trials: int = 20
    study_name: str = "perfopt"
    timeout: float | None = None
    storage: str | None = None
    storage_url_env: str = DEFAULT_STORAGE_ENV
    mode: str = "trial"
    n_jobs: int = 1
    bt_workers: int = 1
    bt_pool: str = "process"  # how a trial's windows run in parallel: "process" or "thread"
    start_method: str = "fork"
    heap: str = "keep"  # perfopt.heap: "keep" (freed memory reused) or "system"
    blas_threads: int | None = None
    access: str = "bulk"
    source: str = "sqlite"
    n_tickers: int | None = None
    sampler: str = "tpe"
    pruner: str = "none"
    # None: a fresh seed per run. The run's own seed and id are resolved by validated().
    seed: int | None = None
    run_id: str | None = None
    run_seed: int | None = None
    cv: str = "walk-forward"
    cv_folds: int = 4
    embargo_months: int = 1
    fee: float = 0.001
    nan_policy: str = "fail"
    nan_penalty: float = -10.0
    allow_oversubscribe: bool = False
    heartbeat_interval: int = 2
    heartbeat_grace: int = 6
    progress: bool = False
    space: SearchSpace = field(default_factory=SearchSpace)
    # Two objectives (timeframe-grid runs only): NSGA-II settings apply to --sampler nsga2.
    multi_objective: bool = False
    population_size: int = 50
    crossover_prob: float = 0.9
    # Where trials run: local processes/threads (the plans), or tasks on a Dask cluster.
    executor: str = "local"
    dask_scheduler: str | None = None
    ray_address: str | None = None  # --executor ray: local:N, auto or ray://HOST:PORT

    @property
    def uses_trial_processes(self) -> bool:
        """Whether trials run in worker processes (trial and hybrid modes)."""
        return self.mode in ("trial", "hybrid")

    @property
    def uses_pool(self) -> bool:
        """Whether windows of a trial run on a process pool (backtest and hybrid modes)."""
        return self.mode in ("backtest", "hybrid")

    @property
    def thread_cap(self) -> int | None:
        """BLAS/OpenMP threads per worker process: default 1 in process modes."""
        if self.blas_threads is not None:
            return self.blas_threads
        return None if self.mode == "thread" else 1

    def validated(self) -> OptimizeConfig:
        """Return a copy with resolved values, or raise UserError naming the bad input."""
        for name, value, allowed in (
            ("--parallel-mode", self.mode, MODES),
            ("--start-method", self.start_method, START_METHODS),
            ("--access", self.access, ACCESS),
            ("--source", self.source, SOURCES),
            ("--sampler", self.sampler, SAMPLERS),
            ("--pruner", self.pruner, PRUNERS),
            ("--cv", self.cv, CV_KINDS),
            ("--nan-policy", self.nan_policy, NAN_POLICIES),
            ("--executor", self.executor, EXECUTORS),
        ):
            if value not in allowed:
                raise UserError(f"unknown {name} {value!r}; choose one of {', '.join(allowed)}")
        if self.n_trials < 1:
            raise UserError(f"--n-trials must be at least 1, got {self.n_trials}")
        if self.n_jobs == 0 or self.n_jobs < -1:
            raise UserError(
                f"--n-jobs must be a positive count or -1 (physical cores), got {self.n_jobs}"
            )
        if self.bt_workers < 1:
            raise UserError(f"--bt-workers must be at least 1, got {self.bt_workers}")
        if self.bt_pool not in BT_POOLS:
            raise UserError(f"--bt-pool must be one of {', '.join(BT_POOLS)}, got {self.bt_pool!r}")
        if self.heap not in HEAP_MODES:
            raise UserError(f"--heap must be one of {', '.join(HEAP_MODES)}, got {self.heap!r}")
        if self.timeout is not None and not (0 < self.timeout < math.inf):
            raise UserError(f"--timeout must be positive seconds, got {self.timeout}")
        if self.blas_threads is not None and self.blas_threads < 1:
            raise UserError(f"--blas-threads must be at least 1, got {self.blas_threads}")
        if self.n_tickers is not None and self.n_tickers < 2:
            raise UserError(f"--tickers must be at least 2 (a cross-section), got {self.n_tickers}")
        if not self.study_name.strip() or "/" in self.study_name:
            raise UserError(f"--study-name must be non-empty without '/', got {self.study_name!r}")
        if self.seed is not None and self.seed < 0:
            raise UserError(f"--seed must be >= 0, got {self.seed}")
        if self.run_id is not None and not self.run_id.strip():
            raise UserError("--run-id must not be empty; drop it for a generated one")
        self._check_search()
        self._check_executor()
        if self.cv_folds < 2:
            raise UserError(f"--cv-folds must be at least 2, got {self.cv_folds}")
        if self.embargo_months < 0:
            raise UserError(f"--embargo-months must be >= 0, got {self.embargo_months}")
        if not 0 <= self.fee < 1:
            raise UserError(f"--fee must be in [0, 1), got {self.fee}")
        if not math.isfinite(self.nan_penalty):
            raise UserError(f"--nan-penalty must be a finite number, got {self.nan_penalty}")
        if self.heartbeat_interval < 0 or (
            self.heartbeat_interval and self.heartbeat_grace <= self.heartbeat_interval
        ):
            raise UserError(
                "--heartbeat-interval must be >= 0 (0: off) and --heartbeat-grace larger than it, "
                f"got {self.heartbeat_interval} and {self.heartbeat_grace}"
            )
        if self.access == "naive" and self.source != "sqlite":
            raise UserError(
                "--access naive reproduces the per-ticker per-date SQLite queries; "
                "use --source sqlite with it"
            )
        _check_dates(self.start, self.end)
        from perfopt.backtest.config import check_start_method

        check_start_method(self.start_method)
        n_jobs = physical_cores() if self.n_jobs == -1 else self.n_jobs
        cfg = replace(
            self,
            n_jobs=n_jobs,
            data_dir=Path(self.data_dir).expanduser().resolve(),
            run_id=self.run_id or new_run_id(),
            run_seed=self.run_seed
            if self.run_seed is not None
            else run_seed(self.seed, self.run_id),
        )
        if cfg.mode == "hybrid" and not cfg.allow_oversubscribe:
            cores = physical_cores()
            if cfg.n_jobs * cfg.bt_workers > cores:
                raise UserError(
                    f"hybrid plan needs --n-jobs {cfg.n_jobs} x --bt-workers {cfg.bt_workers} = "
                    f"{cfg.n_jobs * cfg.bt_workers} processes on {cores} physical cores; lower them "
                    "or pass --allow-oversubscribe"
                )
        if cfg.mode in ("backtest",) and cfg.n_jobs != 1:
            raise UserError(
                "--parallel-mode backtest runs trials one at a time; drop --n-jobs or use hybrid"
            )
        if cfg.mode in ("trial", "thread") and cfg.bt_workers != 1:
            raise UserError(
                f"--bt-workers applies to the backtest and hybrid modes, not {cfg.mode}; "
                "use --parallel-mode hybrid"
            )
        return cfg

    def _check_search(self) -> None:
        if self.sampler == "nsga2" and not self.multi_objective:
            raise UserError(
                "--sampler nsga2 needs a second objective: add --multi-objective (timeframe-grid "
                "runs), or use tpe, random or cmaes"
            )
        if self.multi_objective and self.sampler == "cmaes":
            raise UserError("--sampler cmaes has one objective; with --multi-objective use nsga2")
        if self.multi_objective and self.pruner != "none":
            raise UserError(
                f"--pruner {self.pruner}: Optuna prunes single-objective trials only; "
                "drop --pruner or --multi-objective"
            )
        if self.population_size < 2:
            raise UserError(f"--population-size must be at least 2, got {self.population_size}")
        if not 0.0 <= self.crossover_prob <= 1.0:
            raise UserError(f"--crossover-prob must be in [0, 1], got {self.crossover_prob}")

    def _check_executor(self) -> None:
        if self.ray_address and self.executor != "ray":
            raise UserError("--ray-address needs --executor ray")
        if self.executor == "local":
            if self.dask_scheduler:
                raise UserError("--dask-scheduler needs --executor dask")
            return
        if self.executor == "ray":
            self._check_ray()
            return
        if not self.dask_scheduler:
            raise UserError(
                "--executor dask needs --dask-scheduler tcp://HOST:PORT or local:N "
                "(a local cluster of N worker processes)"
            )
        if self.mode != "trial":
            raise UserError(
                f"--parallel-mode {self.mode} runs on local processes; --executor dask runs "
                "one trial per Dask worker task (use --parallel-mode trial)"
            )
        if self.n_jobs != 1:
            raise UserError(
                "--n-jobs sets local worker processes; with --executor dask the cluster's "
                "workers run the trials (size a local cluster with --dask-scheduler local:N)"
            )
        parse_scheduler(self.dask_scheduler)  # the probe runs where the storage is prepared

    def _check_ray(self) -> None:
        if self.dask_scheduler:
            raise UserError("--dask-scheduler needs --executor dask, not ray")
        if not self.ray_address:
            raise UserError(
                "--executor ray needs --ray-address local:N (a Ray instance of N CPUs for the "
                "run), auto or ray://HOST:PORT"
            )
        if self.mode != "trial" or self.n_jobs != 1:
            raise UserError(
                "--executor ray runs one trial per Ray task: use --parallel-mode trial and "
                "leave --n-jobs at 1 (size a local instance with --ray-address local:N)"
            )
        check_ray(self.ray_address)

    def plan(self) -> dict[str, object]:
        """The parallel plan as plain values (for the summary)."""
        return {
            "mode": self.mode,
            "n_jobs": self.n_jobs,
            "bt_workers": self.bt_workers,
            "bt_pool": self.bt_pool,
            "start_method": self.start_method,
            "heap": self.heap,
            "blas_threads": self.thread_cap,
            "access": self.access,
            "source": self.source,
            "sampler": self.sampler,
            "pruner": self.pruner,
            "cv": self.cv,
            "seed": self.run_seed,
            "seed_given": self.seed,
            "run_id": self.run_id,
            "executor": self.executor,
            "dask_scheduler": self.dask_scheduler,
            "ray_address": self.ray_address,
            "multi_objective": self.multi_objective,
        }


def _check_dates(start: str, end: str) -> None:
    from datetime import date

    try:
        first, last = date.fromisoformat(start), date.fromisoformat(end)
    except ValueError as exc:
        raise UserError(f"bad --start/--end {start!r}..{end!r}: {exc}; use YYYY-MM-DD") from None
    if first > last:
        raise UserError(f"--start {start} is after --end {end}; swap them")
