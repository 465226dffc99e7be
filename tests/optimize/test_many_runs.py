"""Many `perfopt optimize` runs, one study: the drills of "Many processes or machines".

Four processes started at the same moment on a new storage (SQLite file, journal file,
a fresh PostgreSQL database), then four more on the same, now existing, storage: every
run exits 0, the study holds exactly --n-trials counted trials, no parameter set is
evaluated twice, and each run's summary counts its own trials.
"""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from pathlib import Path

import optuna
import pytest

from perfopt.optimize.storages import open_storage, resolve_storage
from perfopt.optimize.studies import counted_trials, duplicate_params, run_seed

from .conftest import END, START

RUNS = 4


def _start_runs(data_dir: Path, url: str, name: str, n: int, tmp_path: Path, tag: str):
    """Start RUNS processes back to back (the same moment, give or take a fork)."""
    procs = []
    for i in range(RUNS):
        out = tmp_path / f"{tag}{i}.json"
        cmd = [sys.executable, "-m", "perfopt", "optimize", "--data", str(data_dir),
               "--start", START, "--end", END, "--n-trials", str(n), "--study-name", name,
               "--storage", url, "--n-jobs", "1", "--no-progress", "--summary-json", str(out)]  # fmt: skip
        procs.append((subprocess.Popen(cmd, cwd=tmp_path, stdout=subprocess.PIPE,
                                       stderr=subprocess.PIPE, text=True), out))  # fmt: skip
    summaries = []
    for proc, out in procs:
        stdout, stderr = proc.communicate(timeout=300)
        assert proc.returncode == 0, stderr
        assert "Traceback" not in stderr, stderr
        summaries.append(json.loads(out.read_text()))
    return summaries


def _check_round(study: optuna.Study, summaries: list[dict], n: int) -> None:
    trials = study.get_trials()
    assert counted_trials(study) == n
    assert duplicate_params(trials) == set(), "a parameter set was evaluated twice"
    assert not [t for t in trials if not t.state.is_finished()]
    run_ids = {s["run_id"] for s in summaries}
    assert len(run_ids) == RUNS and len({s["plan"]["seed"] for s in summaries}) == RUNS
    for s in summaries:
        assert s["study_counted_trials"] == n and s["duplicate_params"]["study"] == 0
        mine = [t for t in trials if t.user_attrs.get("run_id") == s["run_id"]]
        c = s["trials"]
        assert c["complete"] + c["pruned"] + c["failed"] == sum(
            t.state == optuna.trial.TrialState.COMPLETE for t in mine
        )


def _drill(data_dir: Path, url: str, tmp_path: Path, again: bool, n: int = 8) -> None:
    name = f"many-{uuid.uuid4().hex[:8]}"
    first = _start_runs(data_dir, url, name, n, tmp_path, "a")
    spec = resolve_storage(url, "X", name)
    study = optuna.load_study(study_name=name, storage=open_storage(spec))
    _check_round(study, first, n)
    counts = [sum(s["trials"][k] for k in ("complete", "pruned", "failed")) for s in first]
    assert sum(counts) == n  # the runs shared the n trials between them
    if again:  # the storage and study exist now: four more runs raise the study to 2n
        second = _start_runs(data_dir, url, name, 2 * n, tmp_path, "b")
        study = optuna.load_study(study_name=name, storage=open_storage(spec))
        _check_round(study, second, 2 * n)


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["sqlite", "journal"])
def test_four_runs_at_once_on_a_new_file(data_dir, tmp_path, kind):
    url = f"sqlite:///{tmp_path}/new.db" if kind == "sqlite" else f"journal://{tmp_path}/new.log"
    # Existing storages: SQLite here; PostgreSQL and journal in test_quota.py.
    _drill(data_dir, url, tmp_path, again=kind == "sqlite")


@pytest.mark.slow
@pytest.mark.postgres
def test_four_runs_at_once_on_a_new_postgres_database(data_dir, postgres_url, tmp_path):
    import psycopg

    db = f"perfopt_many_{uuid.uuid4().hex[:10]}"  # its own database: no other test sees it
    admin = postgres_url.replace("+psycopg", "").rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{db}"')
    try:
        _drill(data_dir, postgres_url.rsplit("/", 1)[0] + f"/{db}", tmp_path, again=False)
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')


def test_run_seeds_follow_the_documented_rule():
    drawn = {run_seed(None, None) for _ in range(50)}
    assert len(drawn) == 50  # a fresh seed per run
    assert run_seed(7, None) == 7  # --seed alone: a lone run repeats exactly
    a, b = run_seed(7, "task-1"), run_seed(7, "task-2")
    assert a != b and a == run_seed(7, "task-1")  # --seed with --run-id: own and repeatable
    assert 0 <= a < 2**63
