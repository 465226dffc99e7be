"""The Dask executor on a real LocalCluster of worker processes on loopback."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import optuna
import pytest

from perfopt.optimize import OptimizeConfig
from perfopt.optimize.grid import GridConfig, run_grid
from perfopt.optimize.storages import open_storage, resolve_storage
from perfopt.optimize.studies import counted_trials

from .conftest import END, START

pytest.importorskip("distributed")

RUNNING = optuna.trial.TrialState.RUNNING
COMPLETE = optuna.trial.TrialState.COMPLETE
FAIL = optuna.trial.TrialState.FAIL


def test_local_cluster_finishes_n_trials_with_capped_workers(intraday_dir, tmp_path):
    base = OptimizeConfig(
        data_dir=intraday_dir, n_trials=12, storage=f"journal://{tmp_path}/d.log",
        executor="dask", dask_scheduler="local:2",
    )  # fmt: skip
    grid = run_grid(
        GridConfig(base=base, symbol="BTCUSDT", timeframe_grid="1m@15m",
                   reports_dir=tmp_path / "reports")
    )  # fmt: skip
    folder = Path(grid["pairs"][0]["folder"])
    summary = json.loads((folder / "summary.json").read_text())
    assert summary["trials"]["complete"] == 12
    assert summary["dask"]["workers"] == 2 and summary["dask"]["trials"] == 12
    assert summary["dask"]["dispatch_s_per_trial"] > 0
    spec = resolve_storage(base.storage, "X", summary["study"])
    study = optuna.load_study(study_name=summary["study"], storage=open_storage(spec))
    assert counted_trials(study) == 12 and len(study.trials) == 12
    pids = {t.user_attrs["worker_pid"] for t in study.trials}
    assert os.getpid() not in pids  # the trials ran in the Dask workers
    # The nanny set the caps before the worker process started: one thread per pool.
    assert summary["workers"]
    for worker in summary["workers"]:
        assert worker["pid"] in pids
        assert worker["environ_at_start"]["OMP_NUM_THREADS"] == "1"
        assert worker["environ_at_start"]["NUMBA_NUM_THREADS"] == "1"
        pools = summary["thread_pools"][str(worker["pid"])]
        assert pools and all(v == 1 for v in pools.values())


def test_a_killed_dask_worker_loses_its_trial_and_the_search_goes_on(data_dir, tmp_path):
    name = "dask-kill"
    url = f"journal://{tmp_path}/k.log"
    out = tmp_path / "k.json"
    n = 4
    # Naive access: each trial runs long enough to be caught in flight.
    cmd = [sys.executable, "-m", "perfopt", "optimize", "--data", str(data_dir),
           "--start", START, "--end", END, "--access", "naive", "--n-trials", str(n),
           "--study-name", name, "--storage", url, "--executor", "dask",
           "--dask-scheduler", "local:2", "--no-progress", "--summary-json", str(out)]  # fmt: skip
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    spec = resolve_storage(url, "X", name)
    victim = None
    deadline = time.monotonic() + 120
    while victim is None and time.monotonic() < deadline:
        assert proc.poll() is None, proc.communicate()[1]
        try:
            study = optuna.load_study(study_name=name, storage=open_storage(spec))
        except (KeyError, FileNotFoundError):
            time.sleep(0.2)
            continue
        # In its windows: parameters drawn (6), so the retry must repeat them all.
        running = [
            t
            for t in study.get_trials(states=(RUNNING,))
            if "worker_pid" in t.user_attrs and len(t.params) == 6
        ]
        if running:
            victim = running[0]
        else:
            time.sleep(0.1)
    assert victim is not None, "no trial was seen running"
    pid = victim.user_attrs["worker_pid"]
    os.kill(pid, signal.SIGKILL)
    _, stderr = proc.communicate(timeout=180)
    assert proc.returncode == 0, stderr

    study = optuna.load_study(study_name=name, storage=open_storage(spec))
    trials = study.get_trials()
    # Exactly the trial the dead worker held is failed (not a retry that a live worker
    # had picked up), and its one retry completed elsewhere.
    lost = [t for t in trials if t.state == FAIL and "fail_reason" not in t.user_attrs]
    assert len(lost) == 1 and lost[0].user_attrs["worker_pid"] == pid
    killed = lost[0]
    retried = [t for t in trials if t.system_attrs.get("failed_trial") == killed.number]
    # The retry repeats every parameter the lost trial had drawn (it may have died earlier).
    assert len(retried) == 1 and killed.params.items() <= retried[0].params.items()
    assert retried[0].state == COMPLETE and retried[0].user_attrs["worker_pid"] != pid
    assert counted_trials(study) == n
    assert not [t for t in trials if not t.state.is_finished()]
    summary = json.loads(out.read_text())
    # The running task and the one queued behind it on that worker are lost; one trial.
    lost_tasks = summary["dask"]["lost_tasks"]
    assert 1 <= len(lost_tasks) <= 2 and {t["error"] for t in lost_tasks} == {"KilledWorker"}
    assert summary["trials"]["lost"] == 1
    assert summary["failed_by_supervisor"] == [killed.number]


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_a_retry_does_not_look_like_the_dead_workers_trial(tmp_path):
    """The race behind "two trials failed for one dead worker, then Cannot tell a FAIL
    trial": a live worker picks up the retry of a lost trial; before it marks the trial,
    the stale-trial sweep must not take the retry for the dead worker's."""
    from perfopt.optimize.studies import HOST, fail_trials, stale_local_trials

    storage = open_storage(resolve_storage(f"journal://{tmp_path}/r.log", "X", "r"))
    study = optuna.create_study(study_name="r", storage=storage)
    lost = study.ask({"x": optuna.distributions.FloatDistribution(0, 1)})
    lost.set_user_attr("worker_pid", _dead_pid())
    lost.set_user_attr("worker_host", HOST)
    lost.set_user_attr("run_id", "run-a")
    assert fail_trials(study, stale_local_trials(study), retry=True) == [lost.number]
    retry = study.ask()  # a live worker pops the WAITING retry: it is RUNNING, unmarked
    frozen = study.get_trials()[retry.number]
    assert frozen.system_attrs["failed_trial"] == lost.number
    assert frozen.params == study.get_trials()[lost.number].params
    assert not {"worker_pid", "worker_host", "run_id"} & set(frozen.user_attrs)
    assert stale_local_trials(study) == []  # nothing to fail: exactly the dead one was
    study.tell(retry, 0.5)  # and the worker can report it
    assert study.get_trials()[retry.number].state == COMPLETE


def test_a_trial_failed_by_another_process_is_dropped_not_fatal(tmp_path):
    """A slow worker whose trial the heartbeat failed meanwhile goes on to the next trial."""
    from perfopt.optimize.quota import TrialQuota, run_until_quota

    storage = open_storage(resolve_storage(f"journal://{tmp_path}/f.log", "X", "f"))
    study = optuna.create_study(study_name="f", storage=storage)
    calls = []

    def objective(trial):
        x = trial.suggest_float("x", 0, 1)
        calls.append(trial.number)
        if len(calls) == 1:  # what the heartbeat of another process does to a slow trial
            storage.set_trial_state_values(trial._trial_id, state=FAIL)
        return x

    stats = run_until_quota(study, objective, TrialQuota(3, "run-b"), catch=())
    assert counted_trials(study) == 3 and stats["trials"] == 3  # the failed one not counted
    states = [t.state for t in study.get_trials()]
    assert states == [FAIL, COMPLETE, COMPLETE, COMPLETE]
    assert all(t.user_attrs["run_id"] == "run-b" for t in study.get_trials())
