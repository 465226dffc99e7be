"""Thread caps for worker processes, set before numpy is imported, and the stop flag.

Kept free of heavy imports on purpose: a spawned or forkserver child unpickles its
target (perfopt.optimize.workers, perfopt.optimize.window_pool) and, from here,
sets OMP/MKL/OPENBLAS/NUMEXPR/NUMBA thread variables, and only then imports the
modules that load numpy and numba. A forked child already has numpy (and its BLAS
pool) from the parent, so environment variables come too late there: threadpoolctl
limits the live pools instead.

Also home of the stop flag that SIGINT sets: trials check it between windows (and
between dates in the naive data loop) so Ctrl-C ends them within a moment.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import ModuleType
from typing import Any

from perfopt.machine import THREAD_CAP_VARS

STOP = threading.Event()
_LIMITS: list[Any] = []  # keeps threadpoolctl limits alive for the process lifetime


class Interrupted(Exception):  # noqa: N818 - reads as what happened
    """The run was asked to stop (SIGINT); the current trial ends FAIL, marked interrupted."""


def check_stop() -> None:
    """Raise Interrupted once SIGINT was received."""
    if STOP.is_set():
        raise Interrupted("interrupted by SIGINT")


def _on_sigint(signum: int, frame: object) -> None:
    STOP.set()


def install_sigint_handler() -> bool:
    """Make SIGINT set the stop flag instead of raising; False off the main thread."""
    if threading.current_thread() is not threading.main_thread():
        return False
    signal.signal(signal.SIGINT, _on_sigint)
    return True


def cap_environ(cap: int | None) -> dict[str, str]:
    """The environment variables that cap every thread pool at `cap`."""
    return {} if cap is None else dict.fromkeys(THREAD_CAP_VARS, str(cap))


@contextmanager
def capped_environ(cap: int | None) -> Iterator[None]:
    """Set the cap variables in os.environ while children are started, then restore."""
    saved = {k: os.environ.get(k) for k in THREAD_CAP_VARS}
    os.environ.update(cap_environ(cap))
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def apply_caps(cap: int | None) -> None:
    """Cap this process's pools: variables first, then the pools already loaded (fork)."""
    if cap is None:
        return
    os.environ.update(cap_environ(cap))
    if "numpy" in sys.modules:
        from threadpoolctl import threadpool_limits

        _LIMITS.append(threadpool_limits(limits=cap))
    if "numba" in sys.modules:
        _cap_numba(sys.modules["numba"], cap)


@contextmanager
def scoped_caps(cap: int | None) -> Iterator[None]:
    """Cap this process's pools for a block, then restore them (in-process plans)."""
    if cap is None:
        yield
        return
    from threadpoolctl import threadpool_limits

    numba = sys.modules.get("numba")
    # A numba pool that does not run yet must not be started by asking about it: let
    # the capped environment size it should this block start it.
    running = numba is not None and _numba_launched()
    with capped_environ(cap), threadpool_limits(limits=cap):
        if numba is not None and not running:
            numba.config.reload_config()
        before = numba.get_num_threads() if running else None
        if running:
            numba.set_num_threads(min(cap, numba.config.NUMBA_NUM_THREADS))
        try:
            yield
        finally:
            if before is not None:
                numba.set_num_threads(before)
    if numba is not None and not running:
        numba.config.reload_config()  # the environment is restored: so is the config


def _numba_launched() -> bool:
    """Whether numba's parallel thread pool has started in this process."""
    from numba.np.ufunc import parallel

    return bool(getattr(parallel, "_is_initialized", False))


def _cap_numba(numba: ModuleType, cap: int) -> None:
    """Cap numba's pool without starting it.

    `numba.set_num_threads` (and `get_num_threads`) launch the threading layer, which
    loads an OpenMP runtime sized by the NUMBA_NUM_THREADS numba read at import: in a
    forked child that is the parent's value. So: re-read the (capped) environment, and
    only touch a pool that already runs.
    """
    numba.config.reload_config()
    if _numba_launched():
        numba.set_num_threads(min(cap, numba.config.NUMBA_NUM_THREADS))


def die_with_parent(signum: int) -> None:
    """Ask Linux to send `signum` to this process when its parent dies (no-op elsewhere).

    A SIGKILLed parent runs no cleanup: without this its children would live on.
    """
    if not sys.platform.startswith("linux"):
        return
    import contextlib
    import ctypes

    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signum)  # 1 = PR_SET_PDEATHSIG
