"""Environment metadata stamped on every result line (pytest-benchmark machine_info style).

Everything here is cheap and imports nothing heavy: package versions come from
importlib.metadata, the GPU from nvidia-smi (torch.cuda only when torch is already
imported), the commit from git.
"""

from __future__ import annotations

import os
import platform
import shutil
import socket
import subprocess
import sys
import sysconfig
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

import psutil

KEY_PACKAGES = (
    "perfopt",
    "numpy",
    "pandas",
    "pyarrow",
    "numba",
    "h5py",
    "psutil",
    "optuna",
    "sqlalchemy",
    "psycopg",
    "threadpoolctl",
    "torch",
    "dask",
    "distributed",
    "matplotlib",
    "py-spy",
)


def utc_now() -> str:
    """Return the current UTC time as an ISO 8601 string with seconds."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def collect() -> dict[str, Any]:
    """Return the machine, interpreter, packages and commit this process runs on."""
    vm = psutil.virtual_memory()
    config_args = sysconfig.get_config_var("CONFIG_ARGS") or ""
    return {
        "hostname": socket.gethostname(),
        "os": platform.platform(),
        "cpu_model": _cpu_model(),
        "cpu_features": cpu_features(),
        "cores_physical": psutil.cpu_count(logical=False),
        "cores_logical": psutil.cpu_count(logical=True),
        "cores_available": len(psutil.Process().cpu_affinity() or [])
        if hasattr(psutil.Process(), "cpu_affinity")
        else psutil.cpu_count(logical=True),
        "ram_bytes": int(vm.total),
        "gpu": _gpu(),
        "python": {
            "implementation": platform.python_implementation(),
            "version": platform.python_version(),
            "build": " ".join(platform.python_build()),
            "compiler": platform.python_compiler(),
            "executable": sys.executable,
            # a non-optimized build ran pure-Python loops 1.33x slower here
            "optimized": "--enable-optimizations" in config_args,
        },
        "packages": _packages(),
        "git": _git(),
    }


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


# CPU features that change what a workload can do fast (reduced precision, wide vectors)
_FEATURES = ("avx2", "avx512f", "avx512_bf16", "avx512_fp16", "amx_bf16", "amx_fp16", "amx_tile")


def cpu_features() -> list[str]:
    """Which of the features that matter here the CPU has (from /proc/cpuinfo; [] elsewhere)."""
    try:
        text = Path("/proc/cpuinfo").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return []
    flags: set[str] = set()
    for line in text.splitlines():
        if line.startswith(("flags", "Features")):
            flags = set(line.split(":", 1)[1].split())
            break
    return [f for f in _FEATURES if f in flags]


def _gpu() -> list[dict[str, Any]]:
    exe = shutil.which("nvidia-smi")
    if exe:
        try:
            out = subprocess.run(
                [exe, "--query-gpu=name,memory.total,driver_version", "--format=csv,noheader"],
                capture_output=True,
                text=True,
                timeout=10,
                check=True,
            ).stdout
            gpus = []
            for line in out.strip().splitlines():
                name, mem, driver = (p.strip() for p in line.split(",", 2))
                gpus.append({"name": name, "memory": mem, "driver": driver})
            return gpus
        except (OSError, subprocess.SubprocessError, ValueError):
            pass
    torch = sys.modules.get("torch")  # only when someone already paid for the import
    if torch is not None and torch.cuda.is_available():
        return [
            {"name": torch.cuda.get_device_name(i), "memory": None, "driver": None}
            for i in range(torch.cuda.device_count())
        ]
    return []


def _packages() -> dict[str, str | None]:
    versions: dict[str, str | None] = {}
    for name in KEY_PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def _git() -> dict[str, Any]:
    root = Path(__file__).resolve().parents[3]
    # A copy of a checkout sent elsewhere (a GPU machine) may carry a stale .git or none:
    # the commit its tree holds can be given, and then wins.
    given = os.environ.get("PERFOPT_GIT_COMMIT") or None
    info: dict[str, Any] = {"commit": given, "dirty": None}
    if given or not shutil.which("git"):
        return info
    try:
        commit = subprocess.run(
            ["git", "-C", str(root), "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
            timeout=10,
        )
        if commit.returncode == 0:
            info["commit"] = commit.stdout.strip()
            status = subprocess.run(
                ["git", "-C", str(root), "status", "--porcelain", "--untracked-files=no"],
                capture_output=True,
                text=True,
                timeout=10,
            )
            info["dirty"] = bool(status.stdout.strip())
    except (OSError, subprocess.SubprocessError):
        pass
    return info
