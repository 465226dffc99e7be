"""Exact --n-trials from the storage: the rule, the surplus check, independent processes."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
import uuid

import optuna
import pytest

from perfopt.optimize.quota import QuotaStatus, SurplusTrial, TrialQuota, run_until_quota
from perfopt.optimize.studies import counted_trials

from .conftest import END, START, delete_studies

COMPLETE = optuna.trial.TrialState.COMPLETE
FAIL = optuna.trial.TrialState.FAIL


@pytest.mark.parametrize(
    ("counted", "running", "waiting", "step"),
    [(5, 0, 0, "done"), (6, 0, 0, "done"), (4, 1, 0, "wait"), (3, 1, 0, "run"), (4, 1, 1, "run")],
)
def test_next_step(counted, running, waiting, step):
    assert QuotaStatus(counted, running, waiting).next_step(5) == step


def test_a_trial_ranked_past_the_target_is_surplus_and_does_not_count():
    study = optuna.create_study()
    quota = TrialQuota(2)
    t0, t1, t2 = study.ask(), study.ask(), study.ask()  # three workers passed the pre-check
    quota.check_trial(study, t0)
    quota.check_trial(study, t1)
    with pytest.raises(SurplusTrial):
        quota.check_trial(study, t2)
    assert "surplus" in t2.user_attrs
    study.tell(t2, state=FAIL)
    study.tell(t0, 1.0)
    study.tell(t1, 2.0)
    assert counted_trials(study) == 2
    assert "surplus" in study.trials[2].user_attrs
    # A lower trial lost to a dead worker frees its place: the next trial is not surplus.
    study2 = optuna.create_study()
    a, b = study2.ask(), study2.ask()
    study2.tell(a, state=FAIL)  # lost: no fail_reason, does not count
    quota.check_trial(study2, b)
    quota.check_trial(study2, study2.ask())


def test_loop_waits_for_another_process_trial_then_fills_a_lost_place():
    study = optuna.create_study()
    for v in (1.0, 2.0):
        study.enqueue_trial({"x": v})
        t = study.ask({"x": optuna.distributions.FloatDistribution(0, 10)})
        study.tell(t, v)
    other = study.ask({"x": optuna.distributions.FloatDistribution(0, 10)})  # "elsewhere"

    def finish_elsewhere() -> None:
        time.sleep(0.6)
        study.tell(other, state=FAIL)  # the other process lost it: a place frees up

    thread = threading.Thread(target=finish_elsewhere)
    thread.start()
    stats = run_until_quota(
        study, lambda trial: trial.suggest_float("x", 0, 10), TrialQuota(3), catch=()
    )
    thread.join()
    assert stats["waits"] >= 1 and stats["trials"] == 1
    assert counted_trials(study) == 3


def test_loop_stops_instead_of_waiting_when_its_own_run_holds_the_last_places():
    """The run's reservations are all taken: a sibling holds the last trial, no poll."""
    study = optuna.create_study()
    for v in (1.0, 2.0):
        study.tell(study.ask({"x": optuna.distributions.FloatDistribution(0, 10)}), v)
    study.ask({"x": optuna.distributions.FloatDistribution(0, 10)})  # a sibling's last trial
    stats = run_until_quota(
        study, lambda trial: trial.suggest_float("x", 0, 10), TrialQuota(3), catch=(),
        reserved_left=lambda: 0,
    )  # fmt: skip
    assert stats == {"trials": 0, "surplus": 0, "waits": 0}  # no poll, no sleep
    # With a reservation left (a place other runs hold), the loop waits as before.
    left = iter([1, 1, 0])
    stats = run_until_quota(
        study, lambda trial: trial.suggest_float("x", 0, 10), TrialQuota(3), catch=(),
        reserved_left=lambda: next(left),
    )  # fmt: skip
    assert stats["waits"] == 2 and stats["trials"] == 0


def cli_grid(data, storage: str, study_template: str, n: int) -> list[str]:
    return [sys.executable, "-m", "perfopt", "optimize", "--data", str(data),
            "--symbol", "BTCUSDT", "--timeframe-grid", "1m@15m", "--n-trials", str(n),
            "--storage", storage, "--study-template", study_template, "--no-progress",
            "--reports-dir", "reports"]  # fmt: skip


def check_exact(study: optuna.Study, n: int) -> set[int]:
    trials = study.get_trials()
    numbers = [t.number for t in trials]
    assert len(numbers) == len(set(numbers)), "duplicate trial numbers"
    assert counted_trials(study) == n
    assert all(t.state.is_finished() for t in trials)
    extra = [t for t in trials if t.state == FAIL]
    assert all("surplus" in t.user_attrs and not t.params for t in extra), extra
    return {t.user_attrs["worker_pid"] for t in trials if "worker_pid" in t.user_attrs}


def test_two_independent_runs_on_one_journal_finish_exactly_n(intraday_dir, tmp_path):
    name = f"q-{uuid.uuid4().hex[:8]}"
    log = tmp_path / "shared.log"
    cmd = cli_grid(intraday_dir, f"journal://{log}", name, 40)
    procs = [subprocess.Popen(cmd, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True) for _ in range(2)]  # fmt: skip
    for p in procs:
        _, err = p.communicate(timeout=180)
        assert p.returncode == 0, err
    from optuna.storages.journal import JournalFileBackend

    storage = optuna.storages.JournalStorage(JournalFileBackend(str(log)))
    check_exact(optuna.load_study(study_name=name, storage=storage), 40)


@pytest.mark.postgres
def test_two_independent_processes_on_postgres_finish_exactly_n(data_dir, pg_url, tmp_path):
    """Two `perfopt optimize` processes started at once, one study: N trials, no duplicates."""
    name = f"q-{uuid.uuid4().hex[:8]}"
    n = 6
    # Naive access makes trials slow enough (SQLite point queries) that both runs overlap.
    cmd = [sys.executable, "-m", "perfopt", "optimize", "--data", str(data_dir),
           "--start", START, "--end", END, "--access", "naive", "--n-jobs", "1",
           "--n-trials", str(n), "--study-name", name, "--storage", pg_url, "--no-progress"]  # fmt: skip
    try:
        procs = [subprocess.Popen(cmd, cwd=tmp_path, stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True) for _ in range(2)]  # fmt: skip
        outs = []
        for p in procs:
            out, err = p.communicate(timeout=300)
            assert p.returncode == 0, err
            outs.append(out)
        study = optuna.load_study(study_name=name, storage=pg_url)
        pids = check_exact(study, n)
        assert len(pids) == 2, "both processes should have run trials"
        assert sum(t.state == COMPLETE for t in study.trials) == n
        for out in outs:
            assert f"study total {n}/{n}" in out
    finally:
        delete_studies(pg_url, [name])
