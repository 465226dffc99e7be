"""PostgreSQL connections dropped under a run (pg_terminate_backend), on a fresh database.

A run survives connections killed mid-run and finishes exactly --n-trials; a server
that stops accepting connections ends the run with one clear line (ServiceError).
"""

from __future__ import annotations

import contextlib
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator

import optuna
import pytest

from perfopt.errors import ServiceError
from perfopt.optimize import rdb_retry
from perfopt.optimize.storages import open_storage, resolve_storage
from perfopt.optimize.studies import counted_trials

from .conftest import END, START

pytestmark = pytest.mark.postgres


@pytest.fixture
def fresh_db(postgres_url: str) -> Iterator[tuple[str, str]]:
    """(storage URL, admin URL) of a database made for this test alone."""
    import psycopg

    db = f"perfopt_drop_{uuid.uuid4().hex[:10]}"
    admin = postgres_url.replace("+psycopg", "").rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{db}"')
    try:
        yield postgres_url.rsplit("/", 1)[0] + f"/{db}", admin
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'ALTER DATABASE "{db}" ALLOW_CONNECTIONS true')
            conn.execute(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')


def _terminate(admin: str, db: str) -> int:
    import psycopg

    with psycopg.connect(admin, autocommit=True) as conn:
        row = conn.execute(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
            "WHERE datname = %s AND pid <> pg_backend_pid()",
            (db,),
        ).fetchone()
    return int(row[0])


@pytest.mark.slow
def test_a_run_survives_connections_killed_mid_run(data_dir, fresh_db, tmp_path):
    url, admin = fresh_db
    db = url.rsplit("/", 1)[1]
    name, n = "drop", 10
    cmd = [sys.executable, "-m", "perfopt", "optimize", "--data", str(data_dir),
           "--start", START, "--end", END, "--access", "naive", "--n-jobs", "2",
           "--n-trials", str(n), "--study-name", name, "--storage", url, "--no-progress"]  # fmt: skip
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    spec = resolve_storage(url, "X", name)
    deadline = time.monotonic() + 120
    while True:
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, "no trial finished"
        with contextlib.suppress(KeyError):
            study = optuna.load_study(study_name=name, storage=open_storage(spec))
            if counted_trials(study) >= 1:
                break
        time.sleep(0.2)
    killed = 0
    for _ in range(3):  # connections of the workers, the supervisor, the heartbeats
        killed += _terminate(admin, db)
        time.sleep(0.5)
    stdout, stderr = proc.communicate(timeout=300)
    assert killed > 0
    assert proc.returncode == 0, stderr
    assert "Traceback" not in stderr
    assert f"study total {n}/{n}" in stdout
    study = optuna.load_study(study_name=name, storage=open_storage(spec))
    assert counted_trials(study) == n
    assert all(t.state.is_finished() for t in study.get_trials())


def test_a_server_that_stays_away_ends_with_one_line(fresh_db, monkeypatch):
    import psycopg

    url, admin = fresh_db
    db = url.rsplit("/", 1)[1]
    storage = open_storage(resolve_storage(url, "X", "gone"))
    optuna.create_study(study_name="gone", storage=storage)
    monkeypatch.setattr(rdb_retry, "_RECONNECT_DELAYS", (0.05, 0.1, 0.2))
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'ALTER DATABASE "{db}" ALLOW_CONNECTIONS false')
    _terminate(admin, db)
    with pytest.raises(ServiceError) as info:
        storage.get_all_studies()
    text = str(info.value)
    assert "connection lost and not back after 3 retries" in text and "\n" not in text
    assert db in text and "rerun the same command" in text
