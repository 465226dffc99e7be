"""Faults with real processes: a SIGKILLed worker, and Ctrl-C then resume."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import optuna
import pytest

from perfopt.optimize.storages import open_storage, resolve_storage

from .conftest import END, START

RUNNING = optuna.trial.TrialState.RUNNING
COMPLETE = optuna.trial.TrialState.COMPLETE
FAIL = optuna.trial.TrialState.FAIL


def command(data_dir, study_name: str, url: str, n_trials: int, *extra: str) -> list[str]:
    # Naive access makes each trial take a while (thousands of SQLite point queries),
    # so there is a trial in flight to kill or interrupt.
    return [sys.executable, "-m", "perfopt", "optimize", "--data", str(data_dir),
            "--start", START, "--end", END, "--access", "naive", "--n-jobs", "2",
            "--n-trials", str(n_trials), "--study-name", study_name, "--storage", url,
            "--heartbeat-interval", "1", "--heartbeat-grace", "2", "--no-progress", *extra]  # fmt: skip


def open_study(study_name: str, url: str) -> optuna.Study | None:
    try:
        return optuna.load_study(
            study_name=study_name, storage=open_storage(resolve_storage(url, "X", study_name))
        )
    except KeyError:
        return None


def wait_for(proc: subprocess.Popen, study_name: str, url: str, ready) -> optuna.Study:
    """Poll the study until ready(study) is true (the run must still be going)."""
    deadline = time.monotonic() + 120
    study = None
    while time.monotonic() < deadline:
        assert proc.poll() is None, "the run ended before the fault could be injected"
        study = study or open_study(study_name, url)  # opened once: polls stay quick
        if study is not None and ready(study):
            return study
        time.sleep(0.05)
    raise AssertionError("timed out waiting for the run")


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["sqlite", "journal"])
def test_sigkilled_worker_loses_one_trial_and_the_study_still_completes(
    data_dir, study_name, tmp_path, kind
):
    """SQLite: Optuna's heartbeat fails the trial; journal (no heartbeat): the supervisor."""
    url = f"sqlite:///{tmp_path}/k.db" if kind == "sqlite" else f"journal://{tmp_path}/k.log"
    out = tmp_path / "k.json"
    n = 12  # trials of ~0.15 s on 2 workers: the run lasts long enough to be caught
    proc = subprocess.Popen(
        command(data_dir, study_name, url, n, "--summary-json", str(out)),
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip

    def one_done_one_running(study: optuna.Study) -> bool:
        trials = study.get_trials(deepcopy=False)
        running = [t for t in trials if t.state == RUNNING and "worker_pid" in t.user_attrs]
        return any(t.state == COMPLETE for t in trials) and bool(running)

    study = wait_for(proc, study_name, url, one_done_one_running)
    completed_before = {t.number: t.value for t in study.get_trials(states=(COMPLETE,))}
    pid = kill_mid_trial(study, proc)
    stdout, stderr = proc.communicate(timeout=180)
    assert proc.returncode == 0, stderr

    study = open_study(study_name, url)
    trials = study.get_trials()
    # The trial the worker held when it died: exactly one, lost.
    lost = [t for t in trials if t.user_attrs.get("worker_pid") == pid and t.state == FAIL]
    assert len(lost) == 1
    killed = lost[0]
    assert "fail_reason" not in killed.user_attrs  # lost, not counted
    retried = [t for t in trials if t.system_attrs.get("failed_trial") == killed.number]
    # The retry repeats every parameter the lost trial had drawn (it may have died earlier).
    assert len(retried) == 1 and killed.params.items() <= retried[0].params.items()
    assert retried[0].state == COMPLETE
    assert retried[0].user_attrs["worker_pid"] != pid  # a live worker ran the retry
    assert sum(t.state == COMPLETE for t in trials) == n
    assert not [t for t in trials if not t.state.is_finished()]
    # Nothing recorded before the kill was lost.
    assert {t.number: t.value for t in trials if t.number in completed_before} == completed_before
    summary = json.loads(out.read_text())
    assert summary["trials"]["lost"] == 1
    assert [w["signal"] for w in summary["lost_workers"]] == [9]
    if kind == "journal":
        assert summary["failed_by_supervisor"] == [killed.number]
    else:  # Optuna's heartbeat did it
        assert summary["failed_by_supervisor"] == []


@pytest.mark.slow
def test_ctrl_c_stops_every_worker_and_a_rerun_resumes(data_dir, study_name, tmp_path):
    url = f"sqlite:///{tmp_path}/c.db"
    n = 6
    cmd = command(data_dir, study_name, url, n)
    proc = subprocess.Popen(
        cmd, start_new_session=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    wait_for(
        proc,
        study_name,
        url,
        lambda s: (
            len(s.get_trials(deepcopy=False, states=(COMPLETE,))) >= 1
            and len(s.get_trials(deepcopy=False, states=(RUNNING,))) >= 1
        ),
    )
    workers = [p for p in _children(proc.pid)]
    os.killpg(proc.pid, signal.SIGINT)  # what Ctrl-C in a terminal does
    stdout, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 130, stderr
    assert "rerun the same command" in stdout
    for pid in workers:
        assert not _alive(pid), f"worker {pid} still running after Ctrl-C"

    study = open_study(study_name, url)
    trials = study.get_trials()
    assert trials and all(t.state.is_finished() for t in trials)  # consistent: none RUNNING
    done_before = {t.number: t.value for t in trials if t.state == COMPLETE}
    assert 1 <= len(done_before) < n

    rerun = subprocess.run(cmd, capture_output=True, text=True, timeout=180)
    assert rerun.returncode == 0, rerun.stderr
    trials = open_study(study_name, url).get_trials()
    assert sum(t.state == COMPLETE for t in trials) == n
    assert {t.number: t.value for t in trials if t.number in done_before} == done_before
    interrupted = [t for t in trials if t.user_attrs.get("interrupted")]
    assert all(t.state == FAIL for t in interrupted)


def _children(pid: int) -> list[int]:
    import psutil

    return [c.pid for c in psutil.Process(pid).children(recursive=True)]


def _alive(pid: int) -> bool:
    import psutil

    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def kill_mid_trial(study: optuna.Study, proc: subprocess.Popen[str]) -> int:
    """SIGKILL a worker while it runs a trial; return its pid.

    The worker is stopped first and its trial read again: a trial that finished between
    the read and the signal would leave the kill between trials, with no trial to lose.
    """
    for _ in range(50):
        running = [t for t in study.get_trials(states=(RUNNING,)) if "worker_pid" in t.user_attrs]
        for t in running:
            pid = t.user_attrs["worker_pid"]
            os.kill(pid, signal.SIGSTOP)
            now = {x.number: x.state for x in study.get_trials(deepcopy=False)}
            if now[t.number] == RUNNING:
                os.kill(pid, signal.SIGKILL)
                return pid
            os.kill(pid, signal.SIGCONT)
        if proc.poll() is not None:
            break
        time.sleep(0.05)
    raise AssertionError("no worker was caught in the middle of a trial")
