"""Optuna storages: which one a run uses, the checks before work starts, and opening it.

The rules of each kind (memory, SQLite, journal file, PostgreSQL) are classes in
perfopt.optimize.storage_kinds; this module resolves --storage / $--storage-url-env /
the default SQLite file into a picklable `StorageSpec` and hands every question to
its kind. Every URL that is printed, saved or put in an error message is masked.

Many runs may open one storage at the same moment: opening an RDB storage creates its
tables, which is made safe by a folder lock (SQLite) and retries of a concurrent
creator's "already exists" (perfopt.optimize.rdb_retry). Creating the study is
Optuna's create-or-load (`load_if_exists`). A dropped PostgreSQL connection is
survived: pre-ping and keepalives, then retries of the failed call, then one line
(`ServiceError`); a trial whose worker gave up is failed and retried by the heartbeat.

Importing this module imports no optuna; `open_storage` does (in the process that uses
the storage: each worker builds its own from the `StorageSpec`).
"""

from __future__ import annotations

import logging
import os
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from perfopt.optimize.journal_backend import journal_backend
from perfopt.optimize.rdb_retry import retrying_rdb_class
from perfopt.optimize.storage_kinds import (
    KIND_NAMES,
    SQLITE_BUSY_TIMEOUT_S,
    StorageKind,
    kind_named,
    parse_storage,
)

log = logging.getLogger(__name__)

KINDS = KIND_NAMES
# Kept under their former names for callers and tests.
_retrying_rdb_class = retrying_rdb_class
__all__ = [
    "KINDS",
    "SQLITE_BUSY_TIMEOUT_S",
    "StorageSpec",
    "check_storage",
    "journal_backend",
    "open_storage",
    "resolve_storage",
]


@dataclass(frozen=True)
class StorageSpec:
    """A resolved storage: its kind, the URL or path to open, and where it came from."""

    kind: str
    url: str
    origin: str

    @property
    def storage_kind(self) -> StorageKind:
        """The class that knows this kind's rules."""
        return kind_named(self.kind)

    @property
    def masked(self) -> str:
        """The URL with any password replaced by ***."""
        return self.storage_kind.mask(self.url)

    @property
    def supports_heartbeat(self) -> bool:
        """Whether Optuna's heartbeat works on it (RDB storages only, in Optuna 5)."""
        return self.storage_kind.heartbeat

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
    return StorageSpec(*parse_storage(text, origin), origin)


def check_storage(spec: StorageSpec, processes: int) -> list[str]:
    """Refuse unusable storages before work starts; return (and log) warnings worth showing."""
    found = spec.storage_kind.check(spec.url, processes)
    for text in found:
        log.warning(text)
    return found


def check_worker_storage(
    spec: StorageSpec, executor: str, remote: bool, warn_shared: bool = True
) -> list[str]:
    """Refuse storages the workers of an executor cannot share; return warnings."""
    kind = spec.storage_kind
    kind.refuse_workers(f"{executor} workers")
    found = check_storage(spec, 1)  # logs its own warnings
    extra = kind.shared_warnings(spec.url, executor, remote) if warn_shared else []
    for text in extra:
        log.warning(text)
    return found + extra


def open_storage(spec: StorageSpec, heartbeat: tuple[int, int] | None = None) -> Any:
    """Build the Optuna storage in this process; heartbeat = (interval_s, grace_s) or None."""
    import optuna

    with warnings.catch_warnings():
        # Heartbeat arguments are "experimental" in Optuna 5; the warning helps nobody here.
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        return spec.storage_kind.open(spec.url, heartbeat)
