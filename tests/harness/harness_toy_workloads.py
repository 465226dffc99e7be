"""Test-only workloads for the harness tests (imported by the cells' child processes)."""

from __future__ import annotations

import atexit
import os
import signal
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar

from perfopt.workload import Measurement, Workload


class ToyWorkload(Workload):
    """Does what its `mode` says: ok, fail (raise), crash (SIGSEGV), hang (with a grandchild)."""

    name: ClassVar[str] = "toy"
    axes: ClassVar[Mapping[str, list[Any]]] = {
        "mode": ["ok", "fail", "crash", "hang", "invalid", "busy", "busy-exit"],
        "size": [1, 2, 3],
        "workers": [1, 2],
        "counter": [],
        "pidfile": [],
        "storage": [],
    }
    defaults: ClassVar[Mapping[str, Any]] = {"mode": "ok", "size": 1, "workers": 1, "storage": ""}

    def skip_reason(self, params: Mapping[str, Any]) -> str | None:
        """Mode "invalid" is an invalid combination."""
        if params.get("mode") == "invalid":
            return "mode=invalid cannot run (test rule)"
        return None

    def prepare(self, params: Mapping[str, Any], cache_dir: Path) -> None:
        """Write a marker so tests can see prepare ran in the cache folder."""
        (cache_dir / "toy-prepared").write_text("yes")

    def run(self, params: Mapping[str, Any], cache_dir: Path, workdir: Path) -> Measurement:
        """Count the execution, then behave as `mode` says."""
        if params.get("counter"):
            with open(params["counter"], "a") as fh:
                fh.write(f"{params['mode']} {params['size']}\n")
        mode = params["mode"]
        storage = params.get("storage", "")
        print(f"toy stdout: connecting to {storage}")
        print(f"toy stderr: connecting to {storage}", file=sys.stderr)
        if mode == "fail":
            raise ValueError(f"could not open storage {storage}")
        if mode == "crash":
            sys.stderr.flush()
            os.kill(os.getpid(), signal.SIGSEGV)
        if mode == "busy-exit":
            atexit.register(burn_at_exit)  # the interpreter's exit is not the run
        if mode in ("busy", "busy-exit"):
            burn_in_run()  # long enough for py-spy's samples
        if mode == "hang":
            grandchild = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
            Path(params["pidfile"]).write_text(str(grandchild.pid))
            time.sleep(600)
        t0 = time.perf_counter()
        time.sleep(0.01 * params["size"])
        load = time.perf_counter() - t0
        total = sum(i * i for i in range(20000 * params["size"]))
        seconds = time.perf_counter() - t0
        return Measurement(
            seconds=seconds,
            stages={"load": load, "compute": seconds - load},
            metrics={"items_per_s": params["size"] / seconds, "checksum": float(total % 97)},
            info={
                "storage": storage,
                "prepared": (cache_dir / "toy-prepared").exists(),
                "omp_num_threads": os.environ.get("OMP_NUM_THREADS"),
            },
        )


def burn_in_run() -> int:
    """CPU work inside the measured run (a plain loop: this frame is the innermost one)."""
    total = 0
    for i in range(8_000_000):  # ~1 s: enough samples for py-spy on a busy machine
        total += i * i
    return total


def burn_at_exit() -> int:
    """CPU work after the run, while the child exits."""
    total = 0
    for i in range(16_000_000):
        total += i * i
    return total


class MissingPreloadWorkload(ToyWorkload):
    """A toy whose run would import a module that is not installed."""

    name: ClassVar[str] = "toypreload"
    preload: ClassVar[tuple[str, ...]] = ("perfopt_no_such_module",)


class ProbeWorkload(ToyWorkload):
    """A toy that reports how its process started: who imported its preload, its session."""

    name: ClassVar[str] = "probe"
    preload: ClassVar[tuple[str, ...]] = ("harness_toy_marker",)
    axes: ClassVar[Mapping[str, list[Any]]] = {**ToyWorkload.axes, "log": []}

    def run(self, params: Mapping[str, Any], cache_dir: Path, workdir: Path) -> Measurement:
        """Report the process facts a fresh run must have (and where its imports came from)."""
        import random

        import harness_toy_marker

        measurement = super().run(params, cache_dir, workdir)
        measurement.info.update(
            pid=os.getpid(),
            imported_in=harness_toy_marker.IMPORTED_IN,
            session_leader=os.getsid(0) == os.getpid(),
            random=random.random(),
        )
        if params.get("log"):  # every repeat's facts, not only the median's
            with open(params["log"], "a") as fh:
                fh.write(f"{os.getpid()} {measurement.info['random']!r}\n")
        return measurement


class ThreadedPreloadWorkload(ProbeWorkload):
    """A probe whose preload starts a thread at import: its runs must not be forked."""

    name: ClassVar[str] = "probethreads"
    preload: ClassVar[tuple[str, ...]] = ("harness_toy_marker", "harness_toy_threads")
