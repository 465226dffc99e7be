"""Retries for RDB storages (SQLite, PostgreSQL): a locked database and a lost connection.

Most of the resilience comes from public knobs (see perfopt.optimize.storage_kinds):
SQLAlchemy tests a pooled connection before use (`pool_pre_ping`), TCP keepalives
notice a dead peer, SQLite waits on a busy database (`timeout`), and Optuna's heartbeat
fails a trial whose worker died and re-enqueues it (`heartbeat_stale_trial_callback`).

What those cannot do is repeat a call whose connection died *during* the call
(`pg_terminate_backend`, a server restart) or whose SQLite lock outlived the busy
timeout: SQLAlchemy raises and the trial, or the run, would die. Optuna has no public
hook for that. So `RetryingRDBStorage` is a storage of its own that holds Optuna's
storage (an RDBStorage behind Optuna's trial cache, from the public `get_storage`) and
forwards every PUBLIC method of `BaseStorage` and of the heartbeat interface, trying
again on those errors: the failed transaction was rolled back, so trying again is safe.
It wraps no private Optuna method (a subclass would have to: Optuna's trial cache calls
the RDB storage's private methods), so an Optuna upgrade cannot bypass it silently.
"""

from __future__ import annotations

import functools
import logging
import random
import threading
import time
from collections.abc import Callable
from typing import Any

from perfopt.errors import ServiceError
from perfopt.urls import mask_url

log = logging.getLogger(__name__)

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

# Methods forwarded with retries: every public method of Optuna's BaseStorage, and of
# its heartbeat interface (BaseHeartbeat), whose abstract `_get_stale_trial_ids` is part
# of that interface (Optuna's `fail_stale_trials` calls it). Some of Optuna's methods
# call others (get_trial_params -> get_trial): a thread-local guard retries only the
# outermost call, so delays never multiply.
RETRIED_METHODS = (
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
    "create_new_trial",
    "set_trial_param",
    "get_trial_id_from_study_id_trial_number",
    "get_trial_number_from_id",
    "get_trial_param",
    "set_trial_state_values",
    "set_trial_intermediate_value",
    "set_trial_user_attr",
    "set_trial_system_attr",
    "get_trial",
    "get_all_trials",
    "get_n_trials",
    "get_best_trial",
    "get_trial_params",
    "get_trial_user_attrs",
    "get_trial_system_attrs",
    "check_trial_is_updatable",
    "record_heartbeat",
    "_get_stale_trial_ids",
)
_PLAIN_METHODS = ("get_heartbeat_interval", "get_heartbeat_stale_trial_callback", "remove_session")

_ACTIVE = threading.local()


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


def is_disconnect(exc: BaseException) -> bool:
    """Whether the error is a lost or refused database connection (not a bad query)."""
    for err in _chain(exc):
        if getattr(err, "connection_invalidated", False):
            return True
        text = str(err).lower()
        if any(t in text for t in _DISCONNECT_TEXTS):
            return True
    return False


def is_creation_race(exc: BaseException) -> bool:
    """Whether the error is another process creating the same tables or rows first."""
    return any(any(t in str(err).lower() for t in _RACE_TEXTS) for err in _chain(exc))


def reason(exc: BaseException) -> str:
    """The innermost error's first line, masked."""
    inner = _chain(exc)[-1]
    lines = str(inner).strip().splitlines()
    return mask_url(lines[0] if lines else type(inner).__name__)


def _forward(name: str) -> Callable[..., Any]:
    """A method that calls the held storage's `name`, retried when it fails transiently."""

    def method(self: Any, *args: Any, **kwargs: Any) -> Any:
        target = getattr(self._storage, name)
        if getattr(_ACTIVE, "depth", 0):
            return target(*args, **kwargs)  # the outer call retries
        _ACTIVE.depth = 1
        try:
            return _call_with_retries(name, target, self.url, args, kwargs)
        finally:
            _ACTIVE.depth = 0

    method.__name__ = name
    return method


def _plain(name: str) -> Callable[..., Any]:
    """A method that calls the held storage's `name` as is (no database round trip)."""

    def method(self: Any, *args: Any, **kwargs: Any) -> Any:
        return getattr(self._storage, name)(*args, **kwargs)

    method.__name__ = name
    return method


def _call_with_retries(
    name: str, target: Callable[..., Any], url: str, args: Any, kwargs: Any
) -> Any:
    import optuna

    lock_tries = reconnects = 0
    started = time.monotonic()
    while True:
        try:
            return target(*args, **kwargs)
        except Exception as exc:
            # A lock error or a lost connection rolled the transaction back, so
            # trying again is safe.
            locked = isinstance(exc, optuna.exceptions.StorageInternalError) and _is_lock_error(exc)
            if locked and lock_tries < _LOCK_RETRIES - 1:
                log.warning("SQLite storage locked in %s; retry %d", name, lock_tries + 1)
                time.sleep(min(1.0, 0.05 * 2**lock_tries))
                lock_tries += 1
                continue
            if not is_disconnect(exc):
                raise
            if reconnects == len(_RECONNECT_DELAYS):
                if name == "record_heartbeat":
                    log.warning("heartbeat not recorded: storage connection lost")
                    return None  # the heartbeat thread must not die with a traceback
                raise ServiceError(
                    f"storage {mask_url(url)}: connection lost and not back "
                    f"after {reconnects} retries over {time.monotonic() - started:.0f} s "
                    f"({reason(exc)}); check the server, then rerun the same command "
                    "to resume the study"
                ) from None
            log.warning(
                "storage connection lost in %s (%s); retry %d in %.1f s",
                name, reason(exc), reconnects + 1, _RECONNECT_DELAYS[reconnects],
            )  # fmt: skip
            time.sleep(_RECONNECT_DELAYS[reconnects])
            reconnects += 1


@functools.cache
def retrying_rdb_class() -> type:
    """A storage class built like RDBStorage(url, ...) that retries transient failures."""
    from optuna.storages import BaseStorage, RDBStorage, get_storage
    from optuna.storages._heartbeat import BaseHeartbeat  # the heartbeat interface

    def __init__(self: Any, url: str, **kwargs: Any) -> None:  # noqa: N807 - a method
        self.url = url
        # get_storage puts Optuna's cache of finished trials in front of the RDB storage.
        self._storage = get_storage(RDBStorage(url, **kwargs))

    namespace: dict[str, Any] = {name: _forward(name) for name in RETRIED_METHODS}
    namespace.update({name: _plain(name) for name in _PLAIN_METHODS})
    namespace["__init__"] = __init__
    namespace["__doc__"] = (
        "An RDB storage whose calls are retried on 'database is locked' or a lost connection."
    )
    return type("RetryingRDBStorage", (BaseStorage, BaseHeartbeat), namespace)


def create_rdb(make: Callable[[], Any]) -> Any:
    """Build an RDB storage, retrying when a concurrent process creates the tables first."""
    for attempt in range(_CREATE_RETRIES):
        try:
            return make()
        except Exception as exc:  # SQLAlchemy raises many types
            if not is_creation_race(exc) or attempt == _CREATE_RETRIES - 1:
                raise
            log.info("another process is creating the storage's tables; retry %d", attempt + 1)
            time.sleep(0.05 * 2**attempt * (1 + random.random()))
    raise AssertionError("unreachable")
