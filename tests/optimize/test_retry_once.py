"""A lost trial is retried once, even when several processes find it at the same moment.

Every worker sweeps for stale trials (Optuna's heartbeat) before each trial, so several
processes often find the same dead worker's trial together. On SQLite, Optuna's row lock
(SELECT ... FOR UPDATE) is a no-op: two sweeps could both move the trial from RUNNING to
FAIL and both enqueue its retry. Here four real processes, started together behind one
barrier, sweep the same stale trials.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time

import optuna
import pytest

from perfopt.optimize.storages import open_storage, resolve_storage

HEARTBEAT = (1, 2)  # interval, grace period (s)
RACERS = 4
LOST = 6

RACER = textwrap.dedent(
    """
    import sys, time, warnings
    from pathlib import Path
    import optuna
    from perfopt.optimize.storages import open_storage, resolve_storage

    url, name, go = sys.argv[1], sys.argv[2], Path(sys.argv[3])
    storage = open_storage(resolve_storage(url, "X", name), (1, 2))
    study = optuna.load_study(study_name=name, storage=storage)
    print("ready", flush=True)
    while not go.exists():
        time.sleep(0.001)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        optuna.storages.fail_stale_trials(study)
    """
)


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
def test_racing_sweeps_enqueue_one_retry_per_lost_trial(kind, tmp_path, study_name, request):
    if kind == "sqlite":
        url = f"sqlite:///{tmp_path}/r.db"
    else:
        url = request.getfixturevalue("postgres_url")
    storage = open_storage(resolve_storage(url, "X", study_name), HEARTBEAT)
    study = optuna.create_study(study_name=study_name, storage=storage)
    for _ in range(LOST):  # trials whose worker beat once, then died
        trial = study.ask({"x": optuna.distributions.FloatDistribution(0, 1)})
        storage.record_heartbeat(trial._trial_id)
    go = tmp_path / "go"
    racers = [
        subprocess.Popen(
            [sys.executable, "-c", RACER, url, study_name, str(go)],
            stdout=subprocess.PIPE,
            text=True,
        )
        for _ in range(RACERS)
    ]
    try:
        for proc in racers:
            assert proc.stdout is not None and proc.stdout.readline() == "ready\n"
        time.sleep(HEARTBEAT[1] + 0.5)  # the heartbeats are stale now
        go.touch()  # every racer sweeps at once
        for proc in racers:
            assert proc.wait(timeout=120) == 0
    finally:
        for proc in racers:
            if proc.poll() is None:
                proc.kill()
    trials = optuna.load_study(study_name=study_name, storage=storage).get_trials()
    assert sum(t.state == optuna.trial.TrialState.FAIL for t in trials) == LOST
    retries = [t for t in trials if t.state == optuna.trial.TrialState.WAITING]
    assert sorted(t.system_attrs["failed_trial"] for t in retries) == list(range(LOST))
