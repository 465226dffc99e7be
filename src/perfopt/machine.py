"""Facts about this machine that every layer asks: start methods, thread caps, cores, CUDA.

The ground floor: imports nothing heavy (no numpy, torch or psutil at import), so the
CLI's `--help` and any layer may use it. psutil and torch are imported only by the
functions that need them, and torch only when it is already loaded.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from types import ModuleType

# The ways multiprocessing can start a worker, in the order the CLIs list them.
START_METHODS: tuple[str, ...] = ("spawn", "fork", "forkserver")

# The environment variables that size the thread pools of the numeric libraries
# (OpenMP, MKL, OpenBLAS, numexpr, numba); a worker capped to N threads gets each one = N.
THREAD_CAP_VARS: tuple[str, ...] = (
    "OMP_NUM_THREADS",
    "MKL_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "NUMEXPR_NUM_THREADS",
    "NUMBA_NUM_THREADS",
)
# The caps worth reporting when seen in a process's environment: the ones above plus
# macOS Accelerate's, which perfopt never sets but a user's shell may.
THREAD_CAP_VARS_SEEN: tuple[str, ...] = (*THREAD_CAP_VARS, "VECLIB_MAXIMUM_THREADS")


def logical_cores() -> int:
    """Logical CPUs of the machine (os.cpu_count), at least 1."""
    return os.cpu_count() or 1


def available_cores(pid: int = 0) -> int:
    """CPUs process `pid` (0: this one) may run on (its affinity), else the logical count."""
    targets = (pid, 0) if pid else (0,)
    for target in targets:
        try:
            return len(os.sched_getaffinity(target))
        except (AttributeError, OSError):
            continue
    return logical_cores()


def physical_cores() -> int:
    """Physical CPU cores (logical ones when psutil cannot tell)."""
    import psutil

    return psutil.cpu_count(logical=False) or logical_cores()


def cuda_present() -> bool:
    """Whether a CUDA GPU is visible, without importing torch when it is not loaded yet."""
    if "torch" in sys.modules:
        return bool(sys.modules["torch"].cuda.is_available())
    if os.environ.get("CUDA_VISIBLE_DEVICES", None) in ("", "-1"):
        return False
    # the driver's files (some VMs have /dev/nvidia* without the /proc entry)
    return Path("/proc/driver/nvidia/version").exists() or Path("/dev/nvidiactl").exists()


def resolved_device(device: str) -> str:
    """auto -> cuda or cpu, cheaply (see cuda_present)."""
    if device == "auto":
        return "cuda" if cuda_present() else "cpu"
    return device


def cuda_available() -> bool:
    """Whether torch sees a CUDA GPU (imports torch: for code about to use it anyway)."""
    import torch

    return bool(torch.cuda.is_available())


def thread_pools() -> dict[str, int]:
    """Effective thread pools of this process: {library api: threads}, numba included."""
    from threadpoolctl import threadpool_info

    pools: dict[str, int] = {}
    for info in threadpool_info():
        pools[f"{info['user_api']}:{info['internal_api']}"] = int(info["num_threads"])
    numba = sys.modules.get("numba")  # only a numba someone already imported
    if numba is not None:
        pools["numba"] = _numba_threads(numba)
    return pools


def _numba_threads(numba: ModuleType) -> int:
    """Threads numba's pool uses, or would start with, without launching it.

    `numba.get_num_threads` launches the threading layer; a pool not started yet is
    read from the config instead.
    """
    from numba.np.ufunc import parallel

    if getattr(parallel, "_is_initialized", False):
        return int(numba.get_num_threads())
    return int(numba.config.NUMBA_NUM_THREADS)
