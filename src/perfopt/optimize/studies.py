"""Samplers, pruners, per-worker seeds and the trial bookkeeping shared by every plan.

Which trials count toward `--n-trials`: COMPLETE, PRUNED, and FAIL trials that the
objective failed on purpose (a `fail_reason`, e.g. a NaN Sharpe). A FAIL trial without
one was lost to the infrastructure (a killed worker failed by the heartbeat or by the
supervisor, a crash) or interrupted by Ctrl-C: it does not count, and a killed worker's
trial is retried once with the same parameters. Surplus trials (see
`perfopt.optimize.quota`) end FAIL with a `surplus` attribute and do not count either.

Objectives record `worker_pid` and `worker_host` on every trial: pid liveness means
something only on the host that ran the worker (Dask workers and independent runs may
sit on other machines), so the stale-trial sweep looks at this host's trials only.
"""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Iterable
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
    raise UserError(f"unknown --sampler {name!r}; choose tpe, random, cmaes or nsga2")


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
        return optuna.pruners.HyperbandPruner(min_resource=1, max_resource=max(1, n_windows))
    if name == "asha":
        return optuna.pruners.SuccessiveHalvingPruner(min_resource=1)
    raise ValueError(name)


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


def fail_trials(study: Any, trials: Iterable[Any], retry: bool) -> list[int]:
    """Mark trials FAIL (if still running); enqueue a retry of each when asked."""
    import optuna
    from optuna.trial import TrialState

    from perfopt.optimize.storages import retry_callback

    failed = []
    storage = study._storage
    for trial in trials:
        try:
            if storage.set_trial_state_values(trial._trial_id, state=TrialState.FAIL):
                failed.append(trial.number)
        except optuna.exceptions.UpdateFinishedTrialError:
            continue  # the heartbeat of another worker got there first
        if retry:
            retry_callback()(study, storage.get_trial(trial._trial_id))
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
