"""`run_optimize`: validate, resolve the storage, create or resume the study, run a plan."""

from __future__ import annotations

import json
import logging
import signal
import time
from pathlib import Path
from typing import Any

from perfopt.errors import UserError
from perfopt.optimize._bootstrap import STOP, install_sigint_handler
from perfopt.optimize.cluster_address import probe_scheduler
from perfopt.optimize.config import OptimizeConfig
from perfopt.optimize.daily_task import DailyTask
from perfopt.optimize.plans import PlanResult, run_in_process, run_trial_processes
from perfopt.optimize.storages import StorageSpec, check_storage, open_storage, resolve_storage
from perfopt.optimize.tasks import TrialTask
from perfopt.urls import mask_url

log = logging.getLogger(__name__)

# Study user attribute that pins what the objective measures; a resumed study must match.
FINGERPRINT_ATTR = "perfopt_objective"


def load_universe(cfg: OptimizeConfig) -> tuple[tuple[str, ...], Any]:
    """The tickers (first --tickers of the store) and the store's calendar."""
    from perfopt.data import open_store

    store = open_store(cfg.data_dir, cfg.source)
    try:
        tickers = store.tickers()
        calendar = store.dates()
    finally:
        store.close_handle()
    if cfg.n_tickers is not None:
        if cfg.n_tickers > len(tickers):
            raise UserError(
                f"--tickers {cfg.n_tickers} but {cfg.data_dir} holds {len(tickers)} tickers; "
                "lower it or regenerate the data with more"
            )
        tickers = tickers[: cfg.n_tickers]
    if len(tickers) < 2:
        raise UserError(f"{cfg.data_dir} holds {len(tickers)} ticker(s); the strategy needs 2+")
    return tuple(tickers), calendar


def _open_study(cfg: OptimizeConfig, spec: StorageSpec, task: TrialTask) -> Any:
    import optuna

    from perfopt.optimize.studies import make_pruner, sampler_for, seed_for

    heartbeat = (
        (cfg.heartbeat_interval, cfg.heartbeat_grace)
        if spec.supports_heartbeat
        and cfg.heartbeat_interval
        and (cfg.uses_trial_processes or cfg.executor in ("dask", "ray"))
        else None
    )
    storage = open_storage(spec, heartbeat)
    try:
        study = optuna.create_study(
            study_name=cfg.study_name,
            storage=storage,
            directions=list(task.directions),
            load_if_exists=True,
            sampler=sampler_for(cfg, seed_for(cfg.run_seed, 0, 0)),
            pruner=make_pruner(cfg.pruner, task.n_steps),
        )
    except optuna.exceptions.StorageInternalError as exc:
        raise UserError(
            f"storage {spec.masked} failed: {mask_url(str(exc.__cause__ or exc))}"
        ) from None
    stored_dirs = [d.name.lower() for d in study.directions]
    if stored_dirs != [d.lower() for d in task.directions]:
        raise UserError(
            f"study {cfg.study_name!r} in {spec.masked} optimizes {stored_dirs}, this run "
            f"{list(task.directions)}; pick a new study name (or drop/add --multi-objective)"
        )
    fp = task.fingerprint()
    stored = study.user_attrs.get(FINGERPRINT_ATTR)
    if stored is None:
        study.set_user_attr(FINGERPRINT_ATTR, fp)
    elif stored != fp:
        diff = ", ".join(
            f"{k}: {stored.get(k)!r} -> {v!r}" for k, v in fp.items() if stored.get(k) != v
        )
        raise UserError(
            f"study {cfg.study_name!r} in {spec.masked} was made with other settings ({diff}); "
            "resume it with the same ones or pick a new --study-name"
        )
    # The in-process plans need this process's sampler to be the seeded one.
    study.sampler = sampler_for(cfg, seed_for(cfg.run_seed, 0, len(study.trials)))
    return study


def prepare_storage(cfg: OptimizeConfig, spec: StorageSpec) -> list[str]:
    """Check the cluster and the storage for this run's plan or executor; return warnings."""
    if cfg.executor == "dask":
        from perfopt.optimize.dask_executor import check_dask_storage

        probe_scheduler(cfg.dask_scheduler)  # a tcp:// scheduler must answer before any work
        return check_dask_storage(spec, cfg.dask_scheduler)
    if cfg.executor == "ray":
        from perfopt.optimize.ray_executor import check_ray_storage

        return check_ray_storage(spec)
    processes = cfg.n_jobs if cfg.uses_trial_processes else 1
    return check_storage(spec, processes)


def run_optimize(cfg: OptimizeConfig, summary_json: Path | None = None) -> dict[str, Any]:
    """Run (or resume) the study until it holds cfg.n_trials counted trials; return the summary."""
    from perfopt.optimize.cv import build_windows

    cfg = cfg.validated()
    if cfg.multi_objective:
        raise UserError(
            "--multi-objective needs a timeframe-grid run (--symbol and --timeframe-grid): "
            "the daily objective has one value, the mean Sharpe"
        )
    spec = resolve_storage(cfg.storage, cfg.storage_url_env, cfg.study_name)
    warnings = prepare_storage(cfg, spec)
    tickers, calendar = load_universe(cfg)
    windows = tuple(
        build_windows(calendar, cfg.cv, cfg.start, cfg.end, cfg.cv_folds, cfg.embargo_months)
    )
    summary = run_task(cfg, spec, DailyTask(cfg, windows, tickers), warnings)
    summary["windows"] = [w.label for w in windows]
    summary["tickers"] = len(tickers)
    if summary_json is not None:
        write_json(summary_json, summary)
    return summary


def write_json(path: Path, data: Any) -> None:
    """Write JSON with every URL in it masked."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(mask_url(json.dumps(data, indent=2, default=str)) + "\n")


def run_task(
    cfg: OptimizeConfig,
    spec: StorageSpec,
    task: TrialTask,
    warnings: list[str],
    enqueue: tuple[dict[str, Any], ...] = (),
    keep_study: list[Any] | None = None,
) -> dict[str, Any]:
    """Open or resume cfg.study_name, enqueue given parameters, run trials, summarize.

    `cfg` must be validated. `enqueue` parameter sets run first (skipped when a trial
    with the same parameters exists). The study object is appended to `keep_study`
    when given (callers that write more outputs from it).
    """
    import optuna

    previous_verbosity = optuna.logging.get_verbosity()
    optuna.logging.set_verbosity(
        optuna.logging.INFO if log.isEnabledFor(logging.INFO) else optuna.logging.ERROR
    )
    # Optuna's lines go through our handlers, which mask secrets (perfopt.cli).
    optuna.logging.disable_default_handler()
    optuna.logging.enable_propagation()
    try:
        study = _open_study(cfg, spec, task)
        first_number = len(study.trials)  # enqueued trials belong to this run
        for params in enqueue:
            study.enqueue_trial(dict(params), skip_if_exists=True)
        summary = _run_study(cfg, spec, task, study, warnings, first_number)
    finally:
        optuna.logging.set_verbosity(previous_verbosity)
        optuna.logging.disable_propagation()
        optuna.logging.enable_default_handler()
    if keep_study is not None:
        keep_study.append(study)
    return summary


def _run_study(
    cfg: OptimizeConfig,
    spec: StorageSpec,
    task: TrialTask,
    study: Any,
    warnings: list[str],
    first_number: int,
) -> dict[str, Any]:
    """Sweep stale trials, run the plan or executor, summarize trials from first_number."""
    from perfopt.optimize.studies import counted_trials, fail_trials, stale_local_trials
    from perfopt.optimize.summary import summarize

    # A storage no other process can share keeps the trials in this process.
    in_process = not cfg.uses_trial_processes or not spec.storage_kind.multi_process
    stale = stale_local_trials(study)
    if stale:
        log.warning(
            "failing %d trial(s) left RUNNING by dead workers of an earlier run", len(stale)
        )
        fail_trials(study, stale, retry=False)
    remaining = cfg.n_trials - counted_trials(study)
    deadline = None if cfg.timeout is None else time.time() + cfg.timeout

    STOP.clear()
    previous = signal.getsignal(signal.SIGINT)
    handled = install_sigint_handler()
    start = time.perf_counter()
    try:
        if remaining <= 0:
            result = PlanResult()
        elif cfg.executor == "dask":
            from perfopt.optimize.dask_executor import run_on_dask

            result = run_on_dask(cfg, study, spec, task, first_number, deadline)
        elif cfg.executor == "ray":
            from perfopt.optimize.ray_executor import run_on_ray

            result = run_on_ray(cfg, study, spec, task, first_number, deadline)
        elif in_process:
            result = run_in_process(cfg, study, task, remaining, deadline)
        else:
            result = run_trial_processes(
                cfg, study, spec, task, remaining, first_number, deadline,
                progress=_progress_bar(cfg, remaining),
            )  # fmt: skip
    finally:
        if handled:
            signal.signal(signal.SIGINT, previous)
    wall = time.perf_counter() - start
    if remaining <= 0:
        warnings.append(
            f"study {cfg.study_name!r} already holds {cfg.n_trials - remaining} counted trials "
            f">= --n-trials {cfg.n_trials}: nothing to run (raise --n-trials to continue)"
        )
    return summarize(cfg, spec, study, first_number, wall, result, warnings, task)


def _progress_bar(cfg: OptimizeConfig, total: int) -> Any:
    """A callback(done) drawing a tqdm bar on stderr, or None without --progress."""
    if not cfg.progress:
        return None
    from tqdm import tqdm

    bar = tqdm(total=total, desc=f"{cfg.study_name} trials", unit="trial", leave=False)

    def update(done: int) -> None:
        bar.update(done - bar.n)
        if done >= total:
            bar.close()

    return update
