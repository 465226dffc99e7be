"""Optuna storages: URL resolution, checks before work starts, and construction per process.

Kinds: `memory` (one process only), SQLite (`sqlite:///path.db`: WAL, 30 s busy
timeout, retry on `database is locked`), journal file (`journal:///path.log` or a path
ending in .log/.journal: Optuna's JournalFileBackend, synced to disk once per trial
step rather than once per write: `TrialSyncJournalBackend`) and PostgreSQL
(`postgresql://` or `postgresql+psycopg://`). Every URL that is printed, saved or put in
an error message goes through `perfopt.urls.mask_url`.

Many runs may open one storage at the same moment. Opening an RDB storage creates its
tables when they are missing, which is not safe to race: on SQLite it runs under an
exclusive lock on the database's folder (flock: concurrent openers wait their turn), and
on any RDB storage a "table already exists" / unique-violation error of a concurrent
creator is retried with backoff (the second try finds the tables). Creating the study
is Optuna's create-or-load (`load_if_exists`).

A dropped PostgreSQL connection (server restart, `pg_terminate_backend`, a network
blip): SQLAlchemy checks a pooled connection before use (`pool_pre_ping`), TCP
keepalives notice a dead peer, and a call that still fails on a lost connection is
retried with backoff (about 21 s in all: the failed transaction was rolled back, so
trying again is safe) before the run stops with one line (`ServiceError`). A trial
that was running when its worker gave up is failed and retried by the heartbeat.

Importing this module imports no optuna; `open_storage` does (in the process that uses
the storage: each worker builds its own from the picklable `StorageSpec`).
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import random
import sqlite3
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from perfopt.errors import ServiceError, UserError
from perfopt.urls import mask_url

log = logging.getLogger(__name__)

KINDS = ("memory", "sqlite", "journal", "postgresql")
SQLITE_BUSY_TIMEOUT_S = 30
_LOCK_RETRIES = 12
_CREATE_RETRIES = 8
# Delays between tries on a lost connection: 0.1 s doubling to 5 s, about 21 s in all.
_RECONNECT_DELAYS = (0.1, 0.2, 0.4, 0.8, 1.6, 3.2, 5.0, 5.0, 5.0)
_DISCONNECT_TEXTS = (
    "terminating connection",
    "server closed the connection",
    "connection is closed",
    "connection already closed",
    "could not connect",
    "connection refused",
    "connection timed out",
    "consuming input failed",
    "ssl connection has been closed",
    "the database system is starting up",
    "the database system is shutting down",
    "is not currently accepting connections",
)
_RACE_TEXTS = ("already exists", "duplicate key", "unique constraint failed", "uniqueviolation")
# Engine options for PostgreSQL: test pooled connections before use, find dead peers.
_PG_ENGINE_KWARGS = {
    "pool_pre_ping": True,
    "connect_args": {
        "connect_timeout": 10,
        "keepalives": 1,
        "keepalives_idle": 30,
        "keepalives_interval": 10,
        "keepalives_count": 3,
    },
}


@dataclass(frozen=True)
class StorageSpec:
    """A resolved storage: its kind, the URL or path to open, and where it came from."""

    kind: str
    url: str
    origin: str

    @property
    def masked(self) -> str:
        """The URL with any password replaced by ***."""
        return mask_url(self.url)

    @property
    def supports_heartbeat(self) -> bool:
        """Whether Optuna's heartbeat works on it (RDB storages only, in Optuna 5.0)."""
        return self.kind in ("sqlite", "postgresql")

    def describe(self) -> dict[str, str]:
        """Kind, masked URL and origin, for summaries."""
        return {"kind": self.kind, "url": self.masked, "origin": self.origin}


def resolve_storage(
    storage: str | None,
    url_env: str,
    study_name: str,
    base_dir: Path | None = None,
    fallback: Path | None = None,
) -> StorageSpec:
    """Pick the storage: --storage, else $url_env, else a SQLite file.

    The file is `fallback` when given (timeframe grids: studies/<symbol>_<ltf>_<htf>.db),
    else studies/<study>.db; relative paths start at base_dir (default: the cwd).
    """
    if storage:
        text, origin = storage, "--storage"
    elif os.environ.get(url_env, "").strip():
        text, origin = os.environ[url_env].strip(), f"${url_env}"
    elif fallback is not None:
        path = (base_dir or Path.cwd()) / fallback
        origin = "default studies/<symbol>_<ltf>_<htf>.db"
        return StorageSpec("sqlite", f"sqlite:///{path.resolve()}", origin)
    else:
        path = (base_dir or Path.cwd()) / "studies" / f"{study_name}.db"
        return StorageSpec("sqlite", f"sqlite:///{path.resolve()}", "default studies/<study>.db")
    return StorageSpec(*_parse(text, origin), origin)


def _parse(text: str, origin: str) -> tuple[str, str]:
    if text in ("memory", ":memory:", "inmemory"):
        return "memory", "memory"
    if text.startswith("sqlite:///"):
        rest = text[len("sqlite:///") :]
        if not rest or rest == ":memory:":
            raise UserError(
                f"{origin} {text}: an in-memory SQLite database cannot be shared between "
                "processes; use --storage memory or a file sqlite:///path.db"
            )
        path = Path(rest).expanduser().resolve()
        return "sqlite", f"sqlite:///{path}"
    if text.startswith("journal://"):
        rest = text[len("journal://") :]
        return "journal", str(Path(rest).expanduser().resolve())
    if "://" not in text and text.endswith((".log", ".journal")):
        return "journal", str(Path(text).expanduser().resolve())
    scheme = text.split("://", 1)[0] if "://" in text else ""
    if scheme in ("postgresql", "postgres", "postgresql+psycopg"):
        # psycopg (3) is the driver installed; SQLAlchemy's bare postgresql:// means psycopg2.
        return "postgresql", "postgresql+psycopg://" + text.split("://", 1)[1]
    raise UserError(
        f"unknown storage {mask_url(text)!r} from {origin}; use memory, sqlite:///path.db, "
        "journal:///path.log or postgresql+psycopg://user:password@host:port/db"
    )


def check_storage(spec: StorageSpec, processes: int) -> list[str]:
    """Refuse unusable storages before work starts; return warnings worth showing."""
    warnings: list[str] = []
    if spec.kind == "memory" and processes > 1:
        raise UserError(
            f"in-memory storage lives in one process, and this plan runs trials in {processes} "
            "processes; use sqlite:///file.db, journal:///file.log or postgresql, or --n-jobs 1"
        )
    if spec.kind == "sqlite":
        path = Path(spec.url[len("sqlite:///") :])
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            with sqlite3.connect(path, timeout=SQLITE_BUSY_TIMEOUT_S) as conn:
                # WAL lets readers go on while one process writes; it persists in the file.
                conn.execute("PRAGMA journal_mode=WAL")
            conn.close()
        except sqlite3.DatabaseError as exc:
            raise UserError(f"cannot open SQLite storage {path}: {exc}") from None
        if processes > 4:
            warnings.append(
                f"{processes} processes write one SQLite storage: lock waits grow above 4 "
                "writers; use journal or postgresql storage for more"
            )
    if spec.kind == "journal":
        path = Path(spec.url)
        path.parent.mkdir(parents=True, exist_ok=True)
        if path.exists() and not os.access(path, os.W_OK):
            raise UserError(f"journal storage {path} is not writable")
        _check_journal(path)
    if spec.kind == "postgresql":
        _check_postgres(spec)
    for text in warnings:
        log.warning(text)
    return warnings


def _check_journal(path: Path) -> None:
    """Refuse an existing file that is not an Optuna journal (its first line says so)."""
    import json

    if path.is_dir():
        raise UserError(f"journal storage {path} is a folder; name a file (e.g. studies/s.log)")
    if not path.is_file() or path.stat().st_size == 0:
        return
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


def _check_postgres(spec: StorageSpec) -> None:
    """Connect once with a short timeout so an unreachable server fails with a clear line."""
    import psycopg
    from sqlalchemy.engine import make_url

    url = make_url(spec.url)
    host, port = url.host or "localhost", url.port or 5432
    try:
        conn = psycopg.connect(
            host=host,
            port=port,
            user=url.username,
            password=url.password,
            dbname=url.database,
            connect_timeout=5,
        )
    except psycopg.Error as exc:
        reason = mask_url(str(exc).strip().splitlines()[-1] if str(exc).strip() else repr(exc))
        if url.password:
            reason = reason.replace(url.password, "***")
        raise UserError(
            f"PostgreSQL storage {spec.masked} at {host}:{port} is unreachable: {reason}; "
            "start the server or fix --storage"
        ) from None
    conn.close()


def _is_lock_error(exc: BaseException) -> bool:
    text = f"{exc} {exc.__cause__}"
    return "database is locked" in text or "database table is locked" in text


def _chain(exc: BaseException) -> list[BaseException]:
    seen: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and current not in seen:
        seen.append(current)
        current = current.__cause__ or current.__context__
    return seen


def _is_disconnect(exc: BaseException) -> bool:
    """Whether the error is a lost or refused database connection (not a bad query)."""
    for err in _chain(exc):
        if getattr(err, "connection_invalidated", False):
            return True
        text = str(err).lower()
        if any(t in text for t in _DISCONNECT_TEXTS):
            return True
    return False


def _is_creation_race(exc: BaseException) -> bool:
    """Whether the error is another process creating the same tables or rows first."""
    return any(any(t in str(err).lower() for t in _RACE_TEXTS) for err in _chain(exc))


def _retrying(method: Callable[..., Any]) -> Callable[..., Any]:
    def wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
        import optuna

        lock_tries = reconnects = 0
        started = time.monotonic()
        while True:
            try:
                return method(self, *args, **kwargs)
            except Exception as exc:
                # A lock error or a lost connection rolled the transaction back, so
                # trying again is safe.
                locked = isinstance(exc, optuna.exceptions.StorageInternalError) and _is_lock_error(
                    exc
                )
                if locked and lock_tries < _LOCK_RETRIES - 1:
                    log.warning(
                        "SQLite storage locked in %s; retry %d", method.__name__, lock_tries + 1
                    )
                    time.sleep(min(1.0, 0.05 * 2**lock_tries))
                    lock_tries += 1
                    continue
                if not _is_disconnect(exc):
                    raise
                if reconnects == len(_RECONNECT_DELAYS):
                    if method.__name__ == "record_heartbeat":
                        log.warning("heartbeat not recorded: storage connection lost")
                        return None  # the heartbeat thread must not die with a traceback
                    raise ServiceError(
                        f"storage {mask_url(str(self.url))}: connection lost and not back "
                        f"after {reconnects} retries over {time.monotonic() - started:.0f} s "
                        f"({_reason(exc)}); check the server, then rerun the same command "
                        "to resume the study"
                    ) from None
                log.warning(
                    "storage connection lost in %s (%s); retry %d in %.1f s",
                    method.__name__, _reason(exc), reconnects + 1, _RECONNECT_DELAYS[reconnects],
                )  # fmt: skip
                time.sleep(_RECONNECT_DELAYS[reconnects])
                reconnects += 1

    wrapper.__name__ = method.__name__
    return wrapper


def _reason(exc: BaseException) -> str:
    """The innermost error's first line, masked."""
    inner = _chain(exc)[-1]
    lines = str(inner).strip().splitlines()
    return mask_url(lines[0] if lines else type(inner).__name__)


_RETRIED_METHODS = (
    "create_new_study",
    "delete_study",
    "set_study_user_attr",
    "set_study_system_attr",
    "get_study_id_from_name",
    "get_study_name_from_id",
    "get_study_directions",
    "get_study_user_attrs",
    "get_study_system_attrs",
    "get_all_studies",
    "_create_new_trial",
    "_set_trial_param",
    "get_trial_id_from_study_id_trial_number",
    "set_trial_state_values",
    "set_trial_intermediate_value",
    "set_trial_user_attr",
    "set_trial_system_attr",
    "get_trial",
    "_get_trials",
    "_get_best_trial_id",
    "record_heartbeat",
    "_get_stale_trial_ids",
)


def _retrying_rdb_class() -> type:
    from optuna.storages import RDBStorage

    namespace = {name: _retrying(getattr(RDBStorage, name)) for name in _RETRIED_METHODS}
    namespace["__doc__"] = (
        "RDBStorage that retries a call failed by 'database is locked' or a lost connection."
    )
    return type("RetryingRDBStorage", (RDBStorage,), namespace)


def retry_callback() -> Any:
    """The callback that re-enqueues a stale trial once with the same parameters."""
    from perfopt.optimize.studies import retry_lost_trial

    return retry_lost_trial


def open_storage(spec: StorageSpec, heartbeat: tuple[int, int] | None = None) -> Any:
    """Build the Optuna storage in this process; heartbeat = (interval_s, grace_s) or None."""
    import warnings

    import optuna

    with warnings.catch_warnings():
        # Heartbeat arguments are "experimental" in Optuna 5.0; the warning helps nobody here.
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        return _open_storage(spec, heartbeat)


@contextlib.contextmanager
def _folder_lock(path: Path) -> Iterator[None]:
    """Hold an exclusive flock on a folder (waits for other holders; leaves no file)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing releases the lock


def _create_rdb(make: Callable[[], Any]) -> Any:
    """Build an RDB storage, retrying when a concurrent process creates the tables first."""
    for attempt in range(_CREATE_RETRIES):
        try:
            return make()
        except Exception as exc:  # SQLAlchemy raises many types
            if not _is_creation_race(exc) or attempt == _CREATE_RETRIES - 1:
                raise
            log.info("another process is creating the storage's tables; retry %d", attempt + 1)
            time.sleep(0.05 * 2**attempt * (1 + random.random()))
    raise AssertionError("unreachable")


# Journal op codes (Optuna's journal format) whose record is synced to disk at once:
# study records, a new trial, and a trial's state (its end). A trial's parameters and
# attributes are written (visible to every process at once) and reach the disk with
# its next state record: fsync flushes the whole file.
_SYNCED_JOURNAL_OPS = frozenset({0, 1, 2, 3, 4, 6, 10})


def journal_backend(path: str) -> Any:
    """Optuna's journal file backend that fsyncs once per trial step, not once per write.

    Optuna's JournalFileBackend fsyncs every record: about 14 per trial here (six
    parameters, the user attributes, the state), 3 ms each on this disk, as much as a
    fast trial's own work. This one writes every record the same way, under the same
    lock (so it shares a file with plain Optuna processes), and fsyncs only the records
    in `_SYNCED_JOURNAL_OPS`. A process crash loses nothing (written records are in the
    page cache); a power loss can lose the parameters and attributes of trials still
    running, which would end FAIL anyway.
    """
    import json

    from optuna.storages.journal import JournalFileBackend, JournalFileSymlinkLock

    class TrialSyncJournalBackend(JournalFileBackend):
        """JournalFileBackend with one fsync per trial step (see `journal_backend`)."""

        def __init__(self, file_path: str) -> None:
            self._perfopt_path = file_path
            self._perfopt_lock = JournalFileSymlinkLock(file_path)
            super().__init__(file_path, lock_obj=self._perfopt_lock)

        def append_logs(self, logs: list[dict[str, Any]]) -> None:
            text = "\n".join(json.dumps(log, separators=(",", ":")) for log in logs) + "\n"
            sync = any(log.get("op_code") in _SYNCED_JOURNAL_OPS for log in logs)
            self._perfopt_lock.acquire()
            try:
                with open(self._perfopt_path, "ab") as f:
                    f.write(text.encode("utf-8"))
                    f.flush()
                    if sync:
                        os.fsync(f.fileno())
            finally:
                self._perfopt_lock.release()

    return TrialSyncJournalBackend(path)


def _open_storage(spec: StorageSpec, heartbeat: tuple[int, int] | None) -> Any:
    import optuna

    if spec.kind == "memory":
        return optuna.storages.InMemoryStorage()
    if spec.kind == "journal":
        return optuna.storages.JournalStorage(journal_backend(spec.url))
    hb: dict[str, Any] = {}
    if heartbeat:
        hb = {
            "heartbeat_interval": heartbeat[0],
            "grace_period": heartbeat[1],
            # The dead worker's trial is retried once with the same parameters.
            "heartbeat_stale_trial_callback": retry_callback(),
        }
    cls = _retrying_rdb_class()
    if spec.kind == "sqlite":
        engine_kwargs = {"connect_args": {"timeout": SQLITE_BUSY_TIMEOUT_S}}
        folder = Path(spec.url[len("sqlite:///") :]).parent
        folder.mkdir(parents=True, exist_ok=True)
        with _folder_lock(folder):
            return _create_rdb(lambda: cls(spec.url, engine_kwargs=engine_kwargs, **hb))
    try:
        return _create_rdb(lambda: cls(spec.url, engine_kwargs=_pg_engine_kwargs(), **hb))
    except Exception as exc:  # SQLAlchemy raises many types; the URL must stay masked
        raise UserError(f"cannot open PostgreSQL storage {spec.masked}: {_reason(exc)}") from None


def _pg_engine_kwargs() -> dict[str, Any]:
    return {**_PG_ENGINE_KWARGS, "connect_args": dict(_PG_ENGINE_KWARGS["connect_args"])}
