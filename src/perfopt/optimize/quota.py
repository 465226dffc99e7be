"""Exactly `--n-trials` per study, counted in the storage, across independent processes.

A counter in shared memory only holds within one `perfopt optimize` run. Several runs
(on one host or many, started by GNU parallel or a job array, or Dask workers) share
nothing but the storage, so the count comes from there:

1. Before each trial a worker reads the study: `counted` (finished trials that count,
   see `studies.counts_toward_target`), `running` and `waiting` (enqueued) trials.
   counted >= target: stop. counted + running + waiting >= target with nothing waiting:
   others hold the last trials, so wait and look again (a trial that fails frees its
   place). Otherwise start a trial.
2. Two workers can both pass step 1 for the last place. The race is closed right after
   the trial exists: its *rank* is the number of trials with a lower trial number that
   count, run or wait. RDB storages number trials under a row lock on the study and the
   journal storage in log order, so every lower-numbered trial already exists when a
   trial is created. A trial whose rank is >= target is surplus: it ends FAIL with the
   user attribute `surplus` before sampling anything, and does not count.
Every counted trial had fewer than `target` counted-or-pending trials below it, so a
study never holds more than `target` counted trials; a lower trial that later fails
only frees a place, which the loop of step 1 fills. Cost: one read of the study's
trials per check (two per trial), like the TPE sampler's own read.

Waiting workers also settle trials of dead workers: Optuna's heartbeat on RDB storages,
and after `orphan_after_s` without progress the RUNNING trials whose worker process is
gone from this host (journal storage has no heartbeat; the supervisor of a live run
acts first, within a moment).
"""

from __future__ import annotations

import logging
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

log = logging.getLogger(__name__)

POLL_S = 0.25


class SurplusTrial(Exception):  # noqa: N818 - reads as what happened
    """This trial would exceed --n-trials (another process took the last place)."""


@dataclass(frozen=True)
class QuotaStatus:
    """The study's trials as the quota sees them."""

    counted: int
    running: int
    waiting: int

    def next_step(self, target: int) -> str:
        """ "done", "wait" (others hold the last places) or "run"."""
        if self.counted >= target:
            return "done"
        if self.counted + self.running + self.waiting >= target and not self.waiting:
            return "wait"
        return "run"


def _pending_or_counted(trial: Any) -> bool:
    from optuna.trial import TrialState

    from perfopt.optimize.studies import counts_toward_target

    if trial.state in (TrialState.RUNNING, TrialState.WAITING):
        return True
    return counts_toward_target(trial)


class TrialQuota:
    """Reads the study to decide whether one more trial may run (see module docstring).

    `run_id`, when given, is stored on every trial this quota checks (the trial's first
    write), so the run can count its own trials in a shared study.
    """

    def __init__(self, target: int, run_id: str | None = None) -> None:
        self.target = int(target)
        self.run_id = run_id

    def status(self, study: Any) -> QuotaStatus:
        """Counted, running and waiting trials of the study now."""
        from optuna.trial import TrialState

        from perfopt.optimize.studies import counts_toward_target

        counted = running = waiting = 0
        for t in study.get_trials(deepcopy=False):
            if t.state == TrialState.RUNNING:
                running += 1
            elif t.state == TrialState.WAITING:
                waiting += 1
            elif counts_toward_target(t):
                counted += 1
        return QuotaStatus(counted, running, waiting)

    def rank(self, study: Any, number: int) -> int:
        """Trials numbered below `number` that count, run or wait."""
        return sum(
            1
            for t in study.get_trials(deepcopy=False)
            if t.number < number and _pending_or_counted(t)
        )

    def check_trial(self, study: Any, trial: Any) -> None:
        """Raise SurplusTrial (after marking the trial) when it would exceed the target."""
        if self.run_id is not None:
            trial.set_user_attr("run_id", self.run_id)
        rank = self.rank(study, trial.number)
        if rank >= self.target:
            trial.set_user_attr("surplus", f"rank {rank} >= --n-trials {self.target}")
            raise SurplusTrial(f"trial {trial.number} is surplus: {rank} trials ahead of it")


class QuotaObjective:
    """Wraps an objective: the surplus check runs first, before any parameter is drawn."""

    def __init__(self, objective: Callable[[Any], Any], quota: TrialQuota) -> None:
        self.objective = objective
        self.quota = quota

    def __call__(self, trial: Any) -> Any:
        self.quota.check_trial(trial.study, trial)
        return self.objective(trial)


def optimize_one(
    study: Any,
    objective: Callable[[Any], Any],
    catch: tuple[type[BaseException], ...],
    callbacks: list[Callable[[Any, Any], None]],
) -> bool:
    """Run one trial with study.optimize; False when another process finished it first.

    The heartbeat (or a supervisor) fails a trial whose worker looks dead; a worker that
    was only slow then finds its trial FAIL when it reports, and Optuna refuses to tell
    it ("Cannot tell a FAIL trial"). The trial's outcome is already settled (failed and
    retried), so this worker drops its result and goes on instead of dying.
    """
    try:
        study.optimize(objective, n_trials=1, catch=catch, callbacks=callbacks)
    except (ValueError, AssertionError) as exc:
        # Optuna 5 raises the ValueError, or (when the objective had returned) an
        # AssertionError in its clean-up with the ValueError as its context.
        refused = _cannot_tell(exc)
        if refused is None:
            raise
        log.warning("a trial was settled by another process while it ran: %s", refused)
        return False
    return True


def _cannot_tell(exc: BaseException) -> BaseException | None:
    """Optuna's "Cannot tell a FAIL trial" in the exception or its context, else None."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, ValueError) and str(seen).startswith("Cannot tell a "):
            return seen
        seen = seen.__context__
    return None


def _heartbeat_on(study: Any) -> bool:
    from optuna.storages._heartbeat import is_heartbeat_enabled

    return is_heartbeat_enabled(study._storage)


def settle_dead_trials(study: Any, retry: bool = True, local: bool = True) -> list[int]:
    """Fail RUNNING trials of dead workers: heartbeat-stale ones, and dead pids on this host."""
    import optuna

    from perfopt.optimize.studies import fail_trials, stale_local_trials

    failed: list[int] = []
    if _heartbeat_on(study):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            optuna.storages.fail_stale_trials(study)
    stale = stale_local_trials(study) if local else []
    if stale:
        failed = fail_trials(study, stale, retry=retry)
        log.warning("failed %d trial(s) of dead workers on this host: %s", len(failed), failed)
    return failed


def run_until_quota(
    study: Any,
    objective: Callable[[Any], Any],
    quota: TrialQuota,
    catch: tuple[type[BaseException], ...],
    deadline: float | None = None,
    should_stop: Callable[[], bool] = lambda: False,
    on_trial: Callable[[Any], None] | None = None,
    orphan_after_s: float = 10.0,
    reserve: Callable[[], bool] | None = None,
    release: Callable[[], None] | None = None,
    reserved_left: Callable[[], int] | None = None,
) -> dict[str, int]:
    """Run trials one at a time until the study holds `quota.target` counted trials.

    `on_trial(frozen_trial)` is called after every trial this loop ran except surplus
    ones. `reserve()` / `release()` is an optional counter shared by the workers of one
    run (a slot per trial, given back when the trial did not count): it keeps workers
    of the same run from racing for the last place, so surplus trials happen only
    between independent runs; `reserved_left()` reads it, and at 0 a loop that would
    wait stops (the run's other workers hold the last places). Returns {"trials",
    "surplus", "waits"}.
    """
    wrapped = QuotaObjective(objective, quota)
    stats = {"trials": 0, "surplus": 0, "waits": 0}
    last_seen: QuotaStatus | None = None
    changed_at = last_settle = time.monotonic()

    def after(study: Any, trial: Any) -> None:
        from perfopt.optimize.studies import counts_toward_target

        stats["trials"] += 1
        if release is not None and not counts_toward_target(trial):
            release()
        if "surplus" in trial.user_attrs:
            stats["surplus"] += 1
        elif on_trial is not None:
            on_trial(trial)

    while not should_stop():
        if deadline is not None and time.time() >= deadline:
            break
        status = quota.status(study)
        step = status.next_step(quota.target)
        if step == "done":
            break
        if step == "wait":
            if reserved_left is not None and reserved_left() <= 0:
                break  # this run's other workers hold the last places (module docstring)
            stats["waits"] += 1
            now = time.monotonic()
            if status != last_seen:
                last_seen, changed_at = status, now
            if now - last_settle > 1.0 and _heartbeat_on(study):
                settle_dead_trials(study, local=False)  # Optuna's heartbeat check only
                last_settle = now
            if now - changed_at > orphan_after_s:
                settle_dead_trials(study)
                changed_at = now
            time.sleep(POLL_S)
            continue
        last_seen = None
        if reserve is not None and not reserve():
            break  # this run's other workers hold the remaining places
        if not optimize_one(study, wrapped, (SurplusTrial, *catch), [after]) and release:
            release()  # the trial was failed elsewhere: it does not count
    return stats
