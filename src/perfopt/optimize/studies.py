"""Samplers, pruners, per-worker seeds and the trial bookkeeping shared by every plan.

Which trials count toward `--n-trials`: COMPLETE, PRUNED, and FAIL trials that the
objective failed on purpose (a `fail_reason`, e.g. a NaN Sharpe). A FAIL trial without
one was lost to the infrastructure (a killed worker failed by the heartbeat or by the
supervisor, a crash) or interrupted by Ctrl-C: it does not count, and a killed worker's
trial is retried once with the same parameters. Surplus trials (see
`perfopt.optimize.quota`) end FAIL with a `surplus` attribute and do not count either.

Objectives record `worker_pid` and `worker_host` on every trial: pid liveness means
something only on the host that ran the worker (Dask workers and independent runs may
sit on other machines), so the stale-trial sweep looks at this host's trials only. A
retry of a lost trial copies its parameters but not these attributes (nor `run_id`):
until its new worker marks it, nobody may take it for the dead worker's.

Runs and seeds: every run has a run id (`--run-id`, else host-pid-random), stored as the
`run_id` attribute of each trial it starts, so a run counts its own trials in a shared
study. Its sampler seed (`run_seed`): without `--seed`, 63 random bits drawn per run,
so runs started together never share a random stream; with `--seed S` alone, S itself
(a lone run repeats exactly); with `--seed S --run-id ID`, a hash of both (concurrent
runs with the same S and their own ids differ, each repeatable). Each worker's sampler
is seeded from the run seed, its worker index and the study's trial count at start.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import secrets
import socket
from collections.abc import Callable, Iterable
from contextlib import AbstractContextManager
from typing import Any

log = logging.getLogger(__name__)

HOST = socket.gethostname()


def mark_worker(trial: Any) -> None:
    """Record which process on which host runs the trial (first thing a trial does)."""
    trial.set_user_attr("worker_pid", os.getpid())
    trial.set_user_attr("worker_host", HOST)


def _on_this_host(trial: Any) -> bool:
    # Trials written before the host attribute existed were local.
    return trial.user_attrs.get("worker_host", HOST) == HOST


# Attributes that name who ran a trial: a retry of the trial must not inherit them.
WORKER_ATTRS = ("worker_pid", "worker_host", "run_id", "timers")


def new_run_id() -> str:
    """A run id unique across hosts and processes: host-pid-random."""
    return f"{HOST}-{os.getpid()}-{secrets.token_hex(3)}"


def run_seed(seed: int | None, run_id: str | None) -> int:
    """The run's sampler seed from --seed and --run-id (the rule in the module docstring)."""
    if seed is None:
        return secrets.randbits(63)
    if run_id is None:
        return int(seed)
    digest = hashlib.sha256(f"{int(seed)}:{run_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") >> 1


def seed_for(seed: int, worker_index: int, n_existing: int) -> int:
    """A sampler seed from --seed, the worker index and the study's trials so far.

    The trial count keeps a resumed study from drawing its first trials' parameters again.
    """
    import numpy as np

    state = np.random.SeedSequence([seed, worker_index, n_existing]).generate_state(1)
    return int(state[0])


def make_sampler(
    name: str, seed: int, population_size: int = 50, crossover_prob: float = 0.9
) -> Any:
    """The named Optuna sampler, seeded (population and crossover apply to nsga2)."""
    import optuna

    from perfopt.errors import UserError

    if name == "tpe":
        return optuna.samplers.TPESampler(seed=seed)
    if name == "tpe-multivariate":
        import warnings

        with warnings.catch_warnings():  # both options are "experimental" in Optuna 5
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            return optuna.samplers.TPESampler(seed=seed, multivariate=True, group=True)
    if name == "random":
        return optuna.samplers.RandomSampler(seed=seed)
    if name == "cmaes":
        try:
            import cmaes  # noqa: F401
        except ImportError:
            raise UserError("--sampler cmaes needs the cmaes package: pip install cmaes") from None
        return optuna.samplers.CmaEsSampler(seed=seed)
    if name == "nsga2":
        return optuna.samplers.NSGAIISampler(
            seed=seed, population_size=population_size, crossover_prob=crossover_prob
        )
    raise UserError(f"unknown --sampler {name!r}; choose tpe, tpe-multivariate, random, cmaes or nsga2")


def sampler_for(cfg: Any, seed: int) -> Any:
    """The sampler an OptimizeConfig names, seeded."""
    return make_sampler(cfg.sampler, seed, cfg.population_size, cfg.crossover_prob)


def make_pruner(name: str, n_windows: int) -> Any:
    """The named Optuna pruner; steps are window indices."""
    import optuna

    if name == "none":
        return optuna.pruners.NopPruner()
    if name == "median":
        return optuna.pruners.MedianPruner(n_startup_trials=5, n_warmup_steps=1)
    if name == "hyperband":
        # 0 steps: the objective reports what it likes (a user objective); Optuna sizes it.
        max_resource: Any = n_windows if n_windows > 0 else "auto"
        return optuna.pruners.HyperbandPruner(min_resource=1, max_resource=max_resource)
    if name == "asha":
        return optuna.pruners.SuccessiveHalvingPruner(min_resource=1)
    raise ValueError(name)


def duplicate_params(trials: Iterable[Any]) -> set[int]:
    """Numbers of counted trials whose parameter set an earlier counted trial evaluated.

    Retries of lost trials repeat parameters on purpose, but the lost trial does not
    count, so they are not duplicates here.
    """
    seen: set[tuple[tuple[str, Any], ...]] = set()
    dupes: set[int] = set()
    for t in sorted(trials, key=lambda t: t.number):
        if not t.params or not counts_toward_target(t):
            continue
        key = tuple(sorted(t.params.items()))
        if key in seen:
            dupes.add(t.number)
        seen.add(key)
    return dupes


def counts_toward_target(trial: Any) -> bool:
    """Whether a finished trial counts toward --n-trials (see the module docstring)."""
    from optuna.trial import TrialState

    if trial.state in (TrialState.COMPLETE, TrialState.PRUNED):
        return True
    return (
        trial.state == TrialState.FAIL
        and "fail_reason" in trial.user_attrs
        and not trial.user_attrs.get("interrupted")
    )


def counted_trials(study: Any) -> int:
    """Finished trials of the study that count toward --n-trials."""
    from optuna.trial import TrialState

    finished = study.get_trials(
        deepcopy=False, states=(TrialState.COMPLETE, TrialState.PRUNED, TrialState.FAIL)
    )
    return sum(counts_toward_target(t) for t in finished)


def running_trials_of(study: Any, pids: Iterable[int]) -> list[Any]:
    """RUNNING trials of this host whose worker_pid is one of `pids`."""
    from optuna.trial import TrialState

    wanted = set(pids)
    return [
        t
        for t in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,))
        if t.user_attrs.get("worker_pid") in wanted and _on_this_host(t)
    ]


def retry_lost_trial(
    study: Any,
    trial: Any,
    max_retry: int = 1,
    exclusive: Callable[[], AbstractContextManager[None]] | None = None,
) -> None:
    """Enqueue a lost trial again with its parameters (a heartbeat stale-trial callback).

    Optuna's RetryHeartbeatStaleTrialCallback copies every user attribute, the dead
    worker's pid included: a live worker picking the retry up would then look dead to
    the stale-trial sweep until it marks the trial, and the sweep would fail a trial
    that is running (which later ends in "Cannot tell a FAIL trial"). This one keeps
    Optuna's `failed_trial` / `retry_history` system attributes and drops WORKER_ATTRS.

    A lost trial is retried once, whoever finds it: on SQLite two processes can both
    move one trial from RUNNING to FAIL (its row lock is a no-op there), so the check for
    an existing retry and the enqueue run under `exclusive` (the SQLite kind's file lock).
    """
    import optuna

    history = [*trial.system_attrs.get("retry_history", []), trial.number]
    if len(history) > max_retry:
        return
    system_attrs = {**trial.system_attrs, "retry_history": history}
    system_attrs.setdefault("failed_trial", trial.number)
    user_attrs = {k: v for k, v in trial.user_attrs.items() if k not in WORKER_ATTRS}
    with exclusive() if exclusive is not None else contextlib.nullcontext():
        if any(
            t.system_attrs.get("retry_history", [])[-1:] == [trial.number]
            for t in study.get_trials(deepcopy=False)
        ):
            return  # another process found it first and enqueued the retry
        study.add_trial(
            optuna.trial.create_trial(
                state=optuna.trial.TrialState.WAITING,
                params=trial.params,
                distributions=trial.distributions,
                user_attrs=user_attrs,
                system_attrs=system_attrs,
            )
        )


def fail_trials(study: Any, trials: Iterable[Any], retry: bool) -> list[int]:
    """Mark trials FAIL (if still running); enqueue a retry of each when asked."""
    import optuna
    from optuna.trial import TrialState

    failed = []
    storage = study._storage
    # the storage's own stale-trial callback when it has one (it may carry a lock)
    callback = getattr(storage, "get_heartbeat_stale_trial_callback", lambda: None)()
    enqueue = callback or retry_lost_trial
    for trial in trials:
        try:
            if storage.set_trial_state_values(trial._trial_id, state=TrialState.FAIL):
                failed.append(trial.number)
        except optuna.exceptions.UpdateFinishedTrialError:
            continue  # the heartbeat of another worker got there first
        if retry:
            enqueue(study, storage.get_trial(trial._trial_id))
    return failed


def stale_local_trials(study: Any) -> list[Any]:
    """RUNNING trials of this host whose worker_pid is no live process (a killed run's)."""
    import psutil
    from optuna.trial import TrialState

    stale = []
    for t in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        pid = t.user_attrs.get("worker_pid")
        if (
            isinstance(pid, int)
            and pid != os.getpid()
            and _on_this_host(t)
            and not psutil.pid_exists(pid)
        ):
            stale.append(t)
    return stale
