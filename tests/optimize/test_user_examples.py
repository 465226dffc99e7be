"""The examples/ objectives under `perfopt optimize --objective`, with real worker processes.

Two worker processes on SQLite, journal and PostgreSQL: exact trial counts, stage
timers; two independent runs started together; Ctrl-C then resume; a SIGKILLed worker;
pruning with a per-process setup; spawned workers importing the objective file.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import optuna
import pytest

from .test_faults import _alive, _children, kill_mid_trial, open_study, wait_for

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"
COMPLETE = optuna.trial.TrialState.COMPLETE
PRUNED = optuna.trial.TrialState.PRUNED
RUNNING = optuna.trial.TrialState.RUNNING
FAIL = optuna.trial.TrialState.FAIL

pytestmark = pytest.mark.slow


def command(spec: str, study: str, url: str, n: int, *extra: str) -> list[str]:
    return [sys.executable, "-m", "perfopt", "optimize", "--objective", spec,
            "--n-trials", str(n), "--n-jobs", "2", "--study-name", study, "--storage", url,
            "--heartbeat-interval", "1", "--heartbeat-grace", "2", "--no-progress",
            *extra]  # fmt: skip


def sklearn_spec(name: str = "objective") -> str:
    pytest.importorskip("sklearn")
    return f"{EXAMPLES / 'sklearn_objective.py'}:{name}"


def url_for(kind: str, tmp_path: Path, pg: str | None = None) -> str:
    if kind == "sqlite":
        return f"sqlite:///{tmp_path}/s.db"
    if kind == "journal":
        return f"journal://{tmp_path}/s.log"
    assert pg is not None
    return pg


def check_counts(study: optuna.Study, n: int) -> None:
    trials = study.get_trials()
    assert sum(t.state in (COMPLETE, PRUNED) for t in trials) == n
    assert not [t for t in trials if not t.state.is_finished()]


@pytest.mark.parametrize("kind", ["sqlite", "journal", "postgres"])
def test_sklearn_example_two_workers_exact_count_and_stages(kind, tmp_path, study_name, request):
    pg = request.getfixturevalue("pg_url") if kind == "postgres" else None
    url = url_for(kind, tmp_path, pg)
    out = tmp_path / "s.json"
    n = 8
    r = subprocess.run(
        command(sklearn_spec(), study_name, url, n, "--direction", "maximize",
                "--summary-json", str(out)),
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    study = open_study(study_name, url)
    check_counts(study, n)
    assert study.direction == optuna.study.StudyDirection.MAXIMIZE
    pids = set()
    for t in study.get_trials():
        assert {"data", "fit", "total", "optuna"} <= set(t.user_attrs["timers"])
        pids.add(t.user_attrs["worker_pid"])
    summary = json.loads(out.read_text())
    assert len(summary["workers"]) == 2 and summary["trials"]["complete"] == n
    assert 0 < summary["io_ratio"] < 1 and summary["stage_s"]["fit"] > 0
    assert len(pids) == 2  # both processes ran trials


@pytest.mark.parametrize("kind", ["journal", "postgres"])
def test_two_runs_started_together_stop_at_exactly_n(kind, tmp_path, study_name, request):
    pytest.importorskip("backtesting")
    pg = request.getfixturevalue("pg_url") if kind == "postgres" else None
    url = url_for(kind, tmp_path, pg)
    n = 12
    spec = f"{EXAMPLES / 'backtesting_objective.py'}:objective"
    procs = [
        subprocess.Popen(
            command(spec, study_name, url, n, "--direction", "maximize", "--run-id", f"r{i}"),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )  # fmt: skip
        for i in range(2)
    ]
    for p in procs:
        _, err = p.communicate(timeout=300)
        assert p.returncode == 0, err
    study = open_study(study_name, url)
    trials = study.get_trials()
    counted = [t for t in trials if t.state == COMPLETE or "fail_reason" in t.user_attrs]
    assert len(counted) == n
    assert {"data", "backtest"} <= set(counted[0].user_attrs["timers"])


def test_ctrl_c_then_resume(tmp_path, study_name):
    url = f"sqlite:///{tmp_path}/c.db"
    n = 14
    cmd = command(sklearn_spec(), study_name, url, n, "--direction", "maximize")
    proc = subprocess.Popen(
        cmd, start_new_session=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    wait_for(
        proc, study_name, url,
        lambda s: len(s.get_trials(deepcopy=False, states=(COMPLETE,))) >= 2
        and len(s.get_trials(deepcopy=False, states=(RUNNING,))) >= 1,
    )  # fmt: skip
    workers = _children(proc.pid)
    os.killpg(proc.pid, signal.SIGINT)
    stdout, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 130, stderr
    assert "rerun the same command" in stdout
    for pid in workers:
        assert not _alive(pid)
    trials = open_study(study_name, url).get_trials()
    assert all(t.state.is_finished() for t in trials)
    done_before = {t.number: t.value for t in trials if t.state == COMPLETE}
    assert 2 <= len(done_before) < n
    rerun = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert rerun.returncode == 0, rerun.stderr
    study = open_study(study_name, url)
    check_counts(study, n)
    after = {t.number: t.value for t in study.get_trials() if t.number in done_before}
    assert after == done_before


@pytest.mark.parametrize("kind", ["sqlite", "journal"])
def test_sigkilled_worker_trial_is_retried_and_the_count_holds(kind, tmp_path, study_name):
    url = url_for(kind, tmp_path)
    out = tmp_path / "k.json"
    n = 12
    proc = subprocess.Popen(
        command(sklearn_spec(), study_name, url, n, "--direction", "maximize",
                "--summary-json", str(out)),
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip

    def ready(study: optuna.Study) -> bool:
        trials = study.get_trials(deepcopy=False)
        running = [t for t in trials if t.state == RUNNING and "worker_pid" in t.user_attrs]
        return any(t.state == COMPLETE for t in trials) and bool(running)

    study = wait_for(proc, study_name, url, ready)
    pid = kill_mid_trial(study, proc)
    _, stderr = proc.communicate(timeout=300)
    assert proc.returncode == 0, stderr
    study = open_study(study_name, url)
    check_counts(study, n)
    trials = study.get_trials()
    lost = [t for t in trials if t.user_attrs.get("worker_pid") == pid and t.state == FAIL]
    assert len(lost) == 1 and "fail_reason" not in lost[0].user_attrs
    retried = [t for t in trials if t.system_attrs.get("failed_trial") == lost[0].number]
    assert len(retried) == 1 and retried[0].state == COMPLETE
    summary = json.loads(out.read_text())
    assert summary["trials"]["lost"] == 1
    assert [w["signal"] for w in summary["lost_workers"]] == [9]


def test_torch_example_prunes_with_a_setup_per_worker(tmp_path, study_name):
    pytest.importorskip("torch")
    url = f"journal://{tmp_path}/t.log"
    out = tmp_path / "t.json"
    n = 14
    spec = EXAMPLES / "torch_objective.py"
    r = subprocess.run(
        command(f"{spec}:objective", study_name, url, n, "--objective-setup", f"{spec}:setup",
                "--pruner", "median", "--seed", "4", "--summary-json", str(out)),
        capture_output=True, text=True, timeout=400,
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    study = open_study(study_name, url)
    check_counts(study, n)
    states = [t.state for t in study.get_trials()]
    assert PRUNED in states and COMPLETE in states
    for t in study.get_trials():
        assert {"data", "train", "eval"} <= set(t.user_attrs["timers"])
    summary = json.loads(out.read_text())
    assert summary["trials"]["pruned"] >= 1
    # the setup ran once in each worker process: its time is that worker's start-up
    assert len(summary["workers"]) == 2 and all(w["load_s"] > 0 for w in summary["workers"])


def test_spawned_workers_import_the_objective_file_themselves(tmp_path, study_name):
    url = f"journal://{tmp_path}/sp.log"
    out = tmp_path / "sp.json"
    r = subprocess.run(
        command(sklearn_spec("objective_with_data"), study_name, url, 4,
                "--objective-setup", sklearn_spec("load_data"), "--start-method", "spawn",
                "--direction", "maximize", "--summary-json", str(out)),
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    check_counts(open_study(study_name, url), 4)
    summary = json.loads(out.read_text())
    assert summary["plan"]["start_method"] == "spawn"
    assert all(w["ready_s"] > w["load_s"] > 0 for w in summary["workers"])


def test_dask_executor_runs_a_user_objective(tmp_path, study_name):
    pytest.importorskip("distributed")
    path = tmp_path / "quad.py"
    path.write_text(
        "from perfopt import stage\n"
        "def objective(trial):\n"
        "    x = trial.suggest_float('x', -10, 10)\n"
        "    with stage('compute'):\n"
        "        return (x - 2) ** 2\n"
    )
    url = f"journal://{tmp_path}/d.log"
    cmd = [sys.executable, "-m", "perfopt", "optimize", "--objective", f"{path}:objective",
           "--n-trials", "8", "--executor", "dask", "--dask-scheduler", "local:2",
           "--study-name", study_name, "--storage", url, "--no-progress"]  # fmt: skip
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    study = open_study(study_name, url)
    check_counts(study, 8)
    assert all("compute" in t.user_attrs["timers"] for t in study.get_trials())
