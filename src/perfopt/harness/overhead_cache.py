"""The views' own overhead, measured at most once a day per machine and toolchain.

What the sampler and py-spy cost a CPU-bound command (`views.measure_overhead_line`)
depends on the machine, the Python, py-spy, psutil and perfopt's own code, not on the
matrix: twelve runs, about ten seconds, a large share of a quick matrix. The line is
kept in the cell cache under a key made of those (host, CPU model, cores, Python and its
executable, py-spy, psutil and perfopt versions, the commit) and reused for a day; a
reused line says when it was measured (`reused_from`) and the report says so. A line
that could not be measured is never kept. Delete `view-overhead-*.json` from the cache
(or point `PERFOPT_CACHE_DIR` elsewhere) to measure again now.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from perfopt.harness.environment import utc_now

MAX_AGE_S = 24 * 3600


def calibration_key(environment: Mapping[str, Any]) -> str:
    """What the overhead depends on, as a short hash of the run's environment."""
    packages = environment.get("packages") or {}
    git = environment.get("git") or {}
    parts = {
        "host": environment.get("hostname"),
        "cpu": environment.get("cpu_model"),
        "cores": [environment.get("cores_logical"), environment.get("cores_available")],
        "python": [environment.get("python"), sys.executable],
        "tools": [packages.get(name) for name in ("py-spy", "psutil", "perfopt")],
        "commit": [git.get("commit"), git.get("dirty")],
    }
    text = json.dumps(parts, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def overhead_line(
    cache_dir: Path,
    environment: Mapping[str, Any],
    measure: Callable[[], dict[str, Any]],
    now: Callable[[], float] = time.time,
) -> dict[str, Any]:
    """A measured overhead line less than a day old for this environment, else `measure()`."""
    path = cache_dir / f"view-overhead-{calibration_key(environment)}.json"
    try:
        saved = json.loads(path.read_text())
        if 0 <= now() - float(saved["measured_at"]) < MAX_AGE_S:
            return {**saved["overhead"], "reused_from": saved["measured_utc"]}
    except (OSError, ValueError, KeyError, TypeError):
        pass  # none yet, or unreadable: measure
    line = measure()
    if line.get("available"):
        cache_dir.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        kept = {"measured_at": now(), "measured_utc": utc_now(), "overhead": line}
        tmp.write_text(json.dumps(kept))
        tmp.replace(path)
    return line
