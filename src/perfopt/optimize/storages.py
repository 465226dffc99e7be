"""Optuna storages: URL resolution, checks before work starts, and construction per process.

Kinds: `memory` (one process only), SQLite (`sqlite:///path.db`: WAL, 30 s busy
timeout, retry on `database is locked`), journal file (`journal:///path.log` or a path
ending in .log/.journal: Optuna's JournalFileBackend) and PostgreSQL
(`postgresql://` or `postgresql+psycopg://`). Every URL that is printed, saved or put in
an error message goes through `perfopt.urls.mask_url`.

Importing this module imports no optuna; `open_storage` does (in the process that uses
the storage: each worker builds its own from the picklable `StorageSpec`).
"""

from __future__ import annotations

import logging
import os
import sqlite3
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from perfopt.errors import UserError
from perfopt.urls import mask_url

log = logging.getLogger(__name__)

KINDS = ("memory", "sqlite", "journal", "postgresql")
SQLITE_BUSY_TIMEOUT_S = 30
_LOCK_RETRIES = 12


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
    if spec.kind == "postgresql":
        _check_postgres(spec)
    for text in warnings:
        log.warning(text)
    return warnings


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


def _retrying(method: Callable[..., Any]) -> Callable[..., Any]:
    def wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
        import optuna

        for attempt in range(_LOCK_RETRIES):
            try:
                return method(self, *args, **kwargs)
            except optuna.exceptions.StorageInternalError as exc:
                # A lock error rolled the transaction back, so trying again is safe.
                if not _is_lock_error(exc) or attempt == _LOCK_RETRIES - 1:
                    raise
                log.warning("SQLite storage locked in %s; retry %d", method.__name__, attempt + 1)
                time.sleep(min(1.0, 0.05 * 2**attempt))
        raise AssertionError("unreachable")

    wrapper.__name__ = method.__name__
    return wrapper


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
    namespace["__doc__"] = "RDBStorage that retries a call failed by 'database is locked'."
    return type("RetryingRDBStorage", (RDBStorage,), namespace)


def retry_callback() -> Any:
    """Optuna's callback that re-enqueues a stale trial once with the same parameters."""
    import optuna

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        return optuna.storages.RetryHeartbeatStaleTrialCallback(max_retry=1)


def open_storage(spec: StorageSpec, heartbeat: tuple[int, int] | None = None) -> Any:
    """Build the Optuna storage in this process; heartbeat = (interval_s, grace_s) or None."""
    import optuna

    with warnings.catch_warnings():
        # Heartbeat arguments are "experimental" in Optuna 5.0; the warning helps nobody here.
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        return _open_storage(spec, heartbeat)


def _open_storage(spec: StorageSpec, heartbeat: tuple[int, int] | None) -> Any:
    import optuna

    if spec.kind == "memory":
        return optuna.storages.InMemoryStorage()
    if spec.kind == "journal":
        from optuna.storages.journal import JournalFileBackend

        return optuna.storages.JournalStorage(JournalFileBackend(spec.url))
    hb: dict[str, Any] = {}
    if heartbeat:
        hb = {
            "heartbeat_interval": heartbeat[0],
            "grace_period": heartbeat[1],
            # The dead worker's trial is retried once with the same parameters.
            "heartbeat_stale_trial_callback": retry_callback(),
        }
    if spec.kind == "sqlite":
        cls = _retrying_rdb_class()
        engine_kwargs = {"connect_args": {"timeout": SQLITE_BUSY_TIMEOUT_S}}
        return cls(spec.url, engine_kwargs=engine_kwargs, **hb)
    try:
        return optuna.storages.RDBStorage(spec.url, engine_kwargs={"pool_pre_ping": True}, **hb)
    except Exception as exc:  # SQLAlchemy raises many types; the URL must stay masked
        raise UserError(
            f"cannot open PostgreSQL storage {spec.masked}: {mask_url(str(exc))}"
        ) from None
