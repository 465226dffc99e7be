"""glibc's malloc told to keep freed memory, so numpy temporaries reuse pages instead of faulting.

Why: a trial allocates the same arrays over and over (a window's closes, forward fills,
scores: 1-2 MB each, tens of them). glibc serves blocks above its mmap threshold
(128 KiB, raised on the fly up to 32 MiB) with fresh mmaps, and gives the top of the
heap back to the kernel once more than its trim threshold is free, so every trial
touches new pages: the kernel zeroes them, one page fault per 4 KiB, and a process
can spend a third of its CPU time there (docs/parallel.md has the measurements).

`keep` fixes the mmap threshold at 32 MiB (glibc's own ceiling for its adaptive one;
larger arrays are still mapped and unmapped) and the trim threshold at 256 MiB (the
most free memory the heap's top keeps), with `mallopt`. `system` leaves the C library
as it is. Thresholds the user set in the environment (`MALLOC_MMAP_THRESHOLD_`,
`MALLOC_TRIM_THRESHOLD_`, `MALLOC_TOP_PAD_`, `MALLOC_MMAP_MAX_` or glibc.malloc tunables
in `GLIBC_TUNABLES`) win: `keep` then changes nothing and says so. Other C libraries
(musl, macOS) are left alone too. Setting a threshold by hand turns glibc's adaptive one
off, which is why both are set together: Dask's default `MALLOC_TRIM_THRESHOLD_` alone
pins the mmap threshold at 128 KiB and makes such trials several times slower.

The ground floor: imports only the standard library.
"""

from __future__ import annotations

import ctypes
import os
from dataclasses import dataclass

HEAP_MODES: tuple[str, ...] = ("keep", "system")

MMAP_THRESHOLD = 32 * 1024 * 1024
TRIM_THRESHOLD = 256 * 1024 * 1024
# mallopt parameter numbers (glibc's malloc.h).
_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
# Environment variables through which a user sets glibc's malloc thresholds themselves.
USER_HEAP_VARS: tuple[str, ...] = (
    "MALLOC_MMAP_THRESHOLD_",
    "MALLOC_TRIM_THRESHOLD_",
    "MALLOC_TOP_PAD_",
    "MALLOC_MMAP_MAX_",
)


@dataclass(frozen=True)
class HeapSetting:
    """What a process's heap runs with: the mode asked for and whether it took effect."""

    mode: str
    applied: bool
    detail: str

    def as_dict(self) -> dict[str, object]:
        """Plain values for a summary."""
        return {"mode": self.mode, "applied": self.applied, "detail": self.detail}


def glibc_version() -> str | None:
    """The GNU C library's version of this process ("2.36"), or None for another libc."""
    try:
        found = os.confstr("CS_GNU_LIBC_VERSION")
    except (AttributeError, ValueError, OSError):
        return None
    return found.split()[-1] if found and found.startswith("glibc") else None


def user_heap_settings() -> list[str]:
    """The environment's own malloc settings (names only: values are the user's)."""
    names = [name for name in USER_HEAP_VARS if os.environ.get(name)]
    if "glibc.malloc." in os.environ.get("GLIBC_TUNABLES", ""):
        names.append("GLIBC_TUNABLES")
    return names


def describe_heap(mode: str) -> HeapSetting:
    """What `set_heap(mode)` does in a process with this environment, without doing it."""
    if mode not in HEAP_MODES:
        raise ValueError(f"heap mode must be one of {', '.join(HEAP_MODES)}, got {mode!r}")
    if mode == "system":
        return HeapSetting(mode, False, "the C library's malloc defaults")
    version = glibc_version()
    if version is None:
        return HeapSetting(mode, False, "not glibc: its malloc is left as it is")
    own = user_heap_settings()
    if own:
        return HeapSetting(mode, False, f"the environment sets {', '.join(own)}: kept as set")
    return HeapSetting(
        mode,
        True,
        f"glibc {version}, mmap threshold {MMAP_THRESHOLD >> 20} MiB, "
        f"trim threshold {TRIM_THRESHOLD >> 20} MiB: freed memory is reused",
    )


def set_heap(mode: str) -> HeapSetting:
    """Apply heap `mode` to this process (see the module docstring); say what took effect."""
    setting = describe_heap(mode)
    if not setting.applied:
        return setting
    mallopt = ctypes.CDLL(None).mallopt
    mallopt.argtypes = (ctypes.c_int, ctypes.c_int)
    mallopt.restype = ctypes.c_int
    # mallopt returns 1 on success; the mmap threshold first (setting either turns the
    # adaptive one off, and it must not sit at 128 KiB in between).
    if mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD) != 1 or (
        mallopt(_M_TRIM_THRESHOLD, TRIM_THRESHOLD) != 1
    ):
        return HeapSetting(mode, False, "glibc refused the thresholds (mallopt returned 0)")
    return setting
