"""Storage URL resolution, refusals, SQLite WAL and the retry on 'database is locked'."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

import pytest

from perfopt.errors import UserError
from perfopt.optimize.storages import (
    _retrying_rdb_class,
    check_storage,
    open_storage,
    resolve_storage,
)


def test_resolution_order(tmp_path, monkeypatch):
    monkeypatch.delenv("MY_URL", raising=False)
    default = resolve_storage(None, "MY_URL", "study1", base_dir=tmp_path)
    assert default.kind == "sqlite"
    assert default.url == f"sqlite:///{tmp_path.resolve()}/studies/study1.db"
    monkeypatch.setenv("MY_URL", f"journal://{tmp_path}/j.log")
    from_env = resolve_storage(None, "MY_URL", "study1")
    assert (from_env.kind, from_env.origin) == ("journal", "$MY_URL")
    explicit = resolve_storage("postgresql://u:pw@h:1/db", "MY_URL", "study1")
    assert explicit.kind == "postgresql"
    assert explicit.url == "postgresql+psycopg://u:pw@h:1/db"
    assert explicit.masked == "postgresql+psycopg://u:***@h:1/db"


def test_unknown_scheme_is_refused_with_masked_url():
    with pytest.raises(UserError, match="unknown storage") as info:
        resolve_storage("mysql://root:hunter2@db/x", "X", "s")
    assert "hunter2" not in str(info.value)
    assert "root:***@db" in str(info.value)


def test_memory_storage_refused_for_several_processes():
    spec = resolve_storage("memory", "X", "s")
    check_storage(spec, 1)
    with pytest.raises(UserError, match="in-memory storage"):
        check_storage(spec, 2)


def test_unreachable_postgres_names_host_port_and_masks_password():
    spec = resolve_storage("postgresql://postgres:s3cretpw@127.0.0.1:1/test", "X", "s")
    with pytest.raises(UserError) as info:
        check_storage(spec, 2)
    text = str(info.value)
    assert "127.0.0.1:1" in text
    assert "s3cretpw" not in text
    assert "unreachable" in text


def test_sqlite_storage_is_wal_and_warns_above_four_writers(tmp_path):
    spec = resolve_storage(f"sqlite:///{tmp_path}/s.db", "X", "s")
    assert check_storage(spec, 4) == []
    warnings = check_storage(spec, 5)
    assert len(warnings) == 1 and "4 writers" in warnings[0]
    with sqlite3.connect(tmp_path / "s.db") as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_sqlite_lock_is_retried_not_fatal(tmp_path):
    """A writer holding the lock past the busy timeout: the call waits and succeeds."""
    path: Path = tmp_path / "locked.db"
    url = f"sqlite:///{path}"
    # A short busy timeout, so the retry (not the timeout) is what rescues the call.
    storage = _retrying_rdb_class()(url, engine_kwargs={"connect_args": {"timeout": 0.05}})
    holder = sqlite3.connect(path, timeout=5, check_same_thread=False)
    holder.execute("BEGIN EXCLUSIVE")
    release = threading.Timer(0.6, holder.rollback)
    release.start()
    try:
        import optuna

        study_id = storage.create_new_study([optuna.study.StudyDirection.MAXIMIZE], "locked")
    finally:
        release.join()
        holder.close()
    assert storage.get_study_name_from_id(study_id) == "locked"


def test_plain_rdb_fails_on_the_same_lock(tmp_path):
    """The control: without the retry wrapper the locked write aborts."""
    import optuna

    path = tmp_path / "plain.db"
    storage = optuna.storages.RDBStorage(
        f"sqlite:///{path}", engine_kwargs={"connect_args": {"timeout": 0.05}}
    )
    holder = sqlite3.connect(path, timeout=5)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        with pytest.raises(optuna.exceptions.StorageInternalError):
            storage.create_new_study([optuna.study.StudyDirection.MAXIMIZE], "plain")
    finally:
        holder.rollback()
        holder.close()


def test_journal_storage_opens(tmp_path):
    spec = resolve_storage(f"{tmp_path}/x.log", "X", "s")
    assert spec.kind == "journal"
    import optuna

    study = optuna.create_study(storage=open_storage(spec), study_name="j")
    study.optimize(lambda t: t.suggest_float("x", 0, 1), n_trials=2)
    assert len(study.trials) == 2


def test_journal_backend_syncs_once_per_trial_step_and_reads_like_optuna(tmp_path):
    """Records are written as Optuna writes them; only study and trial-state records fsync."""
    import os

    import optuna
    from optuna.storages.journal import JournalFileBackend

    from perfopt.optimize.storages import StorageSpec, open_storage

    path = tmp_path / "s.log"
    storage = open_storage(StorageSpec("journal", str(path), "test"))
    study = optuna.create_study(study_name="j", storage=storage)
    syncs = []
    real_fsync = os.fsync
    os.fsync = lambda fd: (syncs.append(fd), real_fsync(fd))[1]
    try:
        study.optimize(lambda t: t.suggest_float("x", 0, 1) + t.suggest_int("y", 0, 3), 3)
    finally:
        os.fsync = real_fsync
    records = [line for line in path.read_text().splitlines() if line]
    assert len(syncs) < len(records) - 3 * 2  # params were written without their own fsync
    # A plain Optuna backend reads the same study back.
    plain = optuna.storages.JournalStorage(JournalFileBackend(str(path)))
    again = optuna.load_study(study_name="j", storage=plain).trials
    assert [t.params for t in again] == [t.params for t in study.trials]
    assert [t.value for t in again] == [t.value for t in study.trials]
