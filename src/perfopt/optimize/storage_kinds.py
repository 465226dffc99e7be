"""One class per Optuna storage kind: how to parse, mask, check and open it, and what it supports.

Every storage rule lives here; callers (plans, Dask and Ray executors, `--status`, the
harness workloads, the CLI) ask the kind instead of testing its name:

- `matches(text)` / `normalize(text, origin)`: recognize a --storage value and give the
  URL (or path) to open; `mask(url)` is the secret-free form for output.
- `check(url, processes)`: refuse an unusable storage before work starts (UserError
  naming the value and the fix); returns warnings worth showing.
- `refuse_workers(who)` / `shared_warnings(url, executor, remote)`: whether worker
  processes of an executor can share it.
- `open(url, heartbeat)`: the Optuna storage in this process, with the retries and the
  heartbeat where the kind supports them.
- Capabilities: `multi_process` (processes of one host can share it), `multi_host`
  (processes on other hosts can), `heartbeat` (Optuna's heartbeat and retry of lost
  trials), `server` (lives on a database server: must be reachable, nothing is left in
  a work folder). `file_path(url)` is the file a file-based storage lives in.

Kinds: `memory` (one process only), SQLite (`sqlite:///path.db`: WAL, 30 s busy
timeout, retry on `database is locked`), journal file (`journal:///path.log` or a path
ending in .log/.journal: Optuna's journal, synced once per trial step) and PostgreSQL
(`postgresql://`, `postgres://` or `postgresql+psycopg://`).

Importing this module imports no optuna; `open` does.
"""

from __future__ import annotations

import contextlib
import fcntl
import functools
import json
import logging
import os
import sqlite3
from abc import ABC, abstractmethod
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

from perfopt.errors import UserError
from perfopt.urls import mask_url

log = logging.getLogger(__name__)

SQLITE_BUSY_TIMEOUT_S = 30
# Above this many concurrent writers SQLite lock waits grow.
SQLITE_WRITERS = 4
# Engine options for PostgreSQL: test pooled connections before use, find dead peers.
_PG_ENGINE_KWARGS: dict[str, Any] = {
    "pool_pre_ping": True,
    "connect_args": {
        "connect_timeout": 10,
        "keepalives": 1,
        "keepalives_idle": 30,
        "keepalives_interval": 10,
        "keepalives_count": 3,
    },
}


class StorageKind(ABC):
    """The rules of one storage kind (stateless: the URL is passed to every method)."""

    name: ClassVar[str]
    multi_process: ClassVar[bool] = True
    multi_host: ClassVar[bool] = False
    heartbeat: ClassVar[bool] = False
    server: ClassVar[bool] = False

    @abstractmethod
    def matches(self, text: str) -> bool:
        """Whether a --storage value names this kind."""

    @abstractmethod
    def normalize(self, text: str, origin: str) -> str:
        """The URL or path to open for a --storage value of this kind."""

    def mask(self, url: str) -> str:
        """The URL with any password replaced by ***."""
        return mask_url(url)

    def file_path(self, url: str) -> Path | None:
        """The file this storage lives in, or None (memory, a server)."""
        return None

    def workdir_url(self, workdir: Path) -> str | None:
        """A --storage value for a fresh storage in `workdir`; None for a server."""
        return None

    def check(self, url: str, processes: int) -> list[str]:
        """Refuse an unusable storage for `processes` writers; return warnings."""
        return []

    def refuse_workers(self, who: str) -> None:
        """Refuse a storage that worker processes (`who`, e.g. "Dask workers") cannot share."""
        return None  # every kind but memory can be shared

    def shared_warnings(self, url: str, executor: str, remote: bool) -> list[str]:
        """Warnings when the workers of `executor` share it (`remote`: other hosts may)."""
        return []

    @abstractmethod
    def open(self, url: str, heartbeat: tuple[int, int] | None = None) -> Any:
        """The Optuna storage in this process; heartbeat = (interval_s, grace_s) or None."""


class MemoryKind(StorageKind):
    """Optuna's InMemoryStorage: fastest, lives and dies with one process."""

    name = "memory"
    multi_process = False

    def matches(self, text: str) -> bool:
        """memory, :memory: or inmemory."""
        return text in ("memory", ":memory:", "inmemory")

    def normalize(self, text: str, origin: str) -> str:
        """Always "memory"."""
        return "memory"

    def workdir_url(self, workdir: Path) -> str | None:
        """Nothing is written: "memory"."""
        return "memory"

    def check(self, url: str, processes: int) -> list[str]:
        """Refuse several processes."""
        if processes > 1:
            raise UserError(
                f"in-memory storage lives in one process, and this plan runs trials in "
                f"{processes} processes; use sqlite:///file.db, journal:///file.log or "
                "postgresql, or --n-jobs 1"
            )
        return []

    def refuse_workers(self, who: str) -> None:
        """Workers are other processes: always refused."""
        raise UserError(
            f"in-memory storage lives in one process and {who} are other processes; "
            "use postgresql (any host) or journal:///file.log (workers on this host)"
        )

    def open(self, url: str, heartbeat: tuple[int, int] | None = None) -> Any:
        """A new InMemoryStorage (no heartbeat)."""
        import optuna

        return optuna.storages.InMemoryStorage()


class SQLiteKind(StorageKind):
    """A SQLite file in WAL mode: several processes of one host, lock waits above 4 writers."""

    name = "sqlite"
    heartbeat = True
    _PREFIX = "sqlite:///"

    def matches(self, text: str) -> bool:
        """sqlite:///path."""
        return text.startswith(self._PREFIX)

    def normalize(self, text: str, origin: str) -> str:
        """sqlite:///<absolute path>; an in-memory database is refused."""
        rest = text[len(self._PREFIX) :]
        if not rest or rest == ":memory:":
            raise UserError(
                f"{origin} {text}: an in-memory SQLite database cannot be shared between "
                "processes; use --storage memory or a file sqlite:///path.db"
            )
        return f"{self._PREFIX}{Path(rest).expanduser().resolve()}"

    def file_path(self, url: str) -> Path | None:
        """The database file."""
        return Path(url[len(self._PREFIX) :])

    def workdir_url(self, workdir: Path) -> str | None:
        """study.db in the folder."""
        return f"{self._PREFIX}{workdir / 'study.db'}"

    def check(self, url: str, processes: int) -> list[str]:
        """Create the folder, switch the file to WAL, warn above 4 writers."""
        path = self.file_path(url)
        assert path is not None
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            with sqlite3.connect(path, timeout=SQLITE_BUSY_TIMEOUT_S) as conn:
                # WAL lets readers go on while one process writes; it persists in the file.
                conn.execute("PRAGMA journal_mode=WAL")
            conn.close()
        except sqlite3.DatabaseError as exc:
            raise UserError(f"cannot open SQLite storage {path}: {exc}") from None
        if processes > SQLITE_WRITERS:
            return [
                f"{processes} processes write one SQLite storage: lock waits grow above 4 "
                "writers; use journal or postgresql storage for more"
            ]
        return []

    def shared_warnings(self, url: str, executor: str, remote: bool) -> list[str]:
        """One host only, and lock waits."""
        return [
            f"{executor} workers share a SQLite file: it works on one host only, and its lock "
            "waits grow with workers; prefer postgresql or journal storage"
        ]

    def open(self, url: str, heartbeat: tuple[int, int] | None = None) -> Any:
        """A retrying RDBStorage with a 30 s busy timeout, tables created under a folder lock."""
        from perfopt.optimize.rdb_retry import create_rdb, retrying_rdb_class

        cls = retrying_rdb_class()
        engine_kwargs = {"connect_args": {"timeout": SQLITE_BUSY_TIMEOUT_S}}
        path = self.file_path(url)
        assert path is not None
        path.parent.mkdir(parents=True, exist_ok=True)
        # Creating the tables is not safe to race: openers take turns on the folder.
        with _folder_lock(path.parent):
            return create_rdb(
                lambda: cls(
                    url, engine_kwargs=engine_kwargs, **_heartbeat_kwargs(heartbeat, path.parent)
                )
            )


class JournalKind(StorageKind):
    """Optuna's journal file: several processes of one host (or a shared file system)."""

    name = "journal"
    _PREFIX = "journal://"

    def matches(self, text: str) -> bool:
        """journal://path, or a bare path ending in .log or .journal."""
        return text.startswith(self._PREFIX) or (
            "://" not in text and text.endswith((".log", ".journal"))
        )

    def normalize(self, text: str, origin: str) -> str:
        """The absolute path of the file."""
        rest = text[len(self._PREFIX) :] if text.startswith(self._PREFIX) else text
        return str(Path(rest).expanduser().resolve())

    def file_path(self, url: str) -> Path | None:
        """The journal file."""
        return Path(url)

    def workdir_url(self, workdir: Path) -> str | None:
        """study.log in the folder."""
        return f"{self._PREFIX}{workdir / 'study.log'}"

    def check(self, url: str, processes: int) -> list[str]:
        """A writable file that is empty, missing or an Optuna journal."""
        path = Path(url)
        path.parent.mkdir(parents=True, exist_ok=True)
        if path.exists() and not os.access(path, os.W_OK):
            raise UserError(f"journal storage {path} is not writable")
        if path.is_dir():
            raise UserError(f"journal storage {path} is a folder; name a file (e.g. studies/s.log)")
        if not path.is_file() or path.stat().st_size == 0:
            return []
        with open(path, "rb") as fh:
            first = fh.readline(1 << 16)
        try:
            record = json.loads(first)
        except ValueError:
            record = None
        if not isinstance(record, dict) or "op_code" not in record:
            raise UserError(
                f"{path} exists and is not an Optuna journal (its first line is no journal "
                "record); name a new file or an existing journal for --storage"
            )
        return []

    def shared_warnings(self, url: str, executor: str, remote: bool) -> list[str]:
        """Workers on other hosts must see the path."""
        if not remote:
            return []
        return [
            f"journal storage {url}: every {executor} worker must see this path (workers on "
            "this host, or a shared file system with working file locks)"
        ]

    def open(self, url: str, heartbeat: tuple[int, int] | None = None) -> Any:
        """JournalStorage on the per-trial-step syncing backend (no heartbeat in Optuna)."""
        import optuna

        from perfopt.optimize.journal_backend import journal_backend

        return optuna.storages.JournalStorage(journal_backend(url))


class PostgresKind(StorageKind):
    """PostgreSQL through psycopg 3: any number of processes on any hosts."""

    name = "postgresql"
    multi_host = True
    heartbeat = True
    server = True
    _SCHEMES = ("postgresql", "postgres", "postgresql+psycopg")

    def matches(self, text: str) -> bool:
        """postgresql://, postgres:// or postgresql+psycopg://."""
        return "://" in text and text.split("://", 1)[0] in self._SCHEMES

    def normalize(self, text: str, origin: str) -> str:
        """postgresql+psycopg://...: psycopg (3) is the driver installed.

        SQLAlchemy's bare postgresql:// means psycopg2.
        """
        return "postgresql+psycopg://" + text.split("://", 1)[1]

    def check(self, url: str, processes: int) -> list[str]:
        """Connect once with a short timeout so an unreachable server fails with a clear line."""
        import psycopg
        from sqlalchemy.engine import make_url

        parsed = make_url(url)
        host, port = parsed.host or "localhost", parsed.port or 5432
        try:
            conn = psycopg.connect(
                host=host,
                port=port,
                user=parsed.username,
                password=parsed.password,
                dbname=parsed.database,
                connect_timeout=5,
            )
        except psycopg.Error as exc:
            text = str(exc).strip()
            why = mask_url(text.splitlines()[-1] if text else repr(exc))
            if parsed.password:
                why = why.replace(parsed.password, "***")
            raise UserError(
                f"PostgreSQL storage {self.mask(url)} at {host}:{port} is unreachable: {why}; "
                "start the server or fix --storage"
            ) from None
        conn.close()
        return []

    def open(self, url: str, heartbeat: tuple[int, int] | None = None) -> Any:
        """A retrying RDBStorage with pre-ping and TCP keepalives; UserError with a masked URL."""
        from perfopt.optimize.rdb_retry import create_rdb, reason, retrying_rdb_class

        cls = retrying_rdb_class()
        engine_kwargs = {
            **_PG_ENGINE_KWARGS,
            "connect_args": dict(_PG_ENGINE_KWARGS["connect_args"]),
        }
        try:
            return create_rdb(
                lambda: cls(url, engine_kwargs=engine_kwargs, **_heartbeat_kwargs(heartbeat))
            )
        except Exception as exc:  # SQLAlchemy raises many types; the URL must stay masked
            raise UserError(
                f"cannot open PostgreSQL storage {self.mask(url)}: {reason(exc)}"
            ) from None


KINDS: dict[str, StorageKind] = {
    k.name: k for k in (MemoryKind(), SQLiteKind(), JournalKind(), PostgresKind())
}
KIND_NAMES: tuple[str, ...] = tuple(KINDS)


def kind_named(name: str) -> StorageKind:
    """The kind called `name` (memory, sqlite, journal, postgresql)."""
    return KINDS[name]


def parse_storage(text: str, origin: str) -> tuple[str, str]:
    """(kind name, URL to open) of a --storage value; UserError for an unknown one."""
    for kind in KINDS.values():
        if kind.matches(text):
            return kind.name, kind.normalize(text, origin)
    raise UserError(
        f"unknown storage {mask_url(text)!r} from {origin}; use memory, sqlite:///path.db, "
        "journal:///path.log or postgresql+psycopg://user:password@host:port/db"
    )


def _heartbeat_kwargs(
    heartbeat: tuple[int, int] | None, lock_folder: Path | None = None
) -> dict[str, Any]:
    """RDBStorage's public heartbeat options: a dead worker's trial is retried once.

    `lock_folder`: the folder whose flock serializes retries (SQLite's processes share a
    host; a partial of module-level functions, so the storage still pickles).
    """
    if not heartbeat:
        return {}
    from perfopt.optimize.studies import retry_lost_trial

    callback: Any = retry_lost_trial
    if lock_folder is not None:
        callback = functools.partial(
            retry_lost_trial, exclusive=functools.partial(_folder_lock, lock_folder)
        )
    return {
        "heartbeat_interval": heartbeat[0],
        "grace_period": heartbeat[1],
        "heartbeat_stale_trial_callback": callback,
    }


@contextlib.contextmanager
def _folder_lock(path: Path) -> Iterator[None]:
    """Hold an exclusive flock on a folder (waits for other holders; leaves no file)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing releases the lock
