"""Child-process entry point: run one repeat of one cell (`python -m perfopt.harness.child`).

Protocol with the parent (perfopt.harness.runner), pyperf manager/worker style:

1. the parent writes one JSON header line on stdin: import_path, params, cache_dir,
   workdir, result_path;
2. the child imports the workload and the modules it preloads, and runs `prepare`
   (untimed, reported as preload_s and prepare_s), then writes "ready" on the file
   descriptor given by --ready-fd;
3. the parent starts its samplers and writes "go" on stdin;
4. the child runs the workload and writes "done" on the same descriptor (the parent
   stops its samplers: they watch the run, not the interpreter's exit), asks
   threadpoolctl for its own BLAS/OpenMP pools, and writes one JSON result file
   (status, measurement, threadpools, error) atomically.

The child sets no thread caps itself: the parent put them in its environment.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import json
import os
import sys
import time
import traceback
from pathlib import Path
from typing import Any


def main(argv: list[str] | None = None) -> int:
    """Run one cell repeat as described in the module docstring; return the exit status."""
    parser = argparse.ArgumentParser(prog="python -m perfopt.harness.child", allow_abbrev=False)
    parser.add_argument("--ready-fd", type=int, required=True)
    args = parser.parse_args(argv)
    header = json.loads(sys.stdin.buffer.readline())
    result_path = Path(header["result_path"])
    result: dict[str, Any] = {"status": "failed", "phase": "import", "pid": os.getpid()}
    try:
        from perfopt.harness.registry import load_class

        workload = load_class(header["import_path"])()
        params = header["params"]
        cache_dir = Path(header["cache_dir"])
        workdir = Path(header["workdir"])
        cache_dir.mkdir(parents=True, exist_ok=True)
        workdir.mkdir(parents=True, exist_ok=True)
        t0 = time.perf_counter()
        for module in workload.preload:
            importlib.import_module(module)
        result["preload_s"] = time.perf_counter() - t0
        result["phase"] = "prepare"
        t0 = time.perf_counter()
        workload.prepare(params, cache_dir)
        result["prepare_s"] = time.perf_counter() - t0
    except BaseException as exc:  # noqa: BLE001 - everything goes to the parent
        _fail(result, exc)
        _write(result_path, result)
        return 1
    os.set_inheritable(args.ready_fd, False)
    signals = os.fdopen(args.ready_fd, "w", buffering=1)
    signals.write("ready\n")
    if sys.stdin.buffer.readline().strip() != b"go":
        return 3  # the parent gave up on us (timeout or Ctrl-C)
    # the workload's own worker processes must not inherit our control pipe
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.close(devnull)
    result["phase"] = "run"
    try:
        t0 = time.perf_counter()
        measurement = workload.run(params, cache_dir, workdir)
        result["run_wall_s"] = time.perf_counter() - t0
        result["measurement"] = measurement.to_dict()
        result["status"] = "ok"
    except BaseException as exc:  # noqa: BLE001
        _fail(result, exc)
    with contextlib.suppress(OSError):  # a parent that stopped listening is no error
        signals.write("done\n")
        signals.close()
    result["threadpools"] = _threadpools()
    _write(result_path, result)
    return 0 if result["status"] == "ok" else 1


def _fail(result: dict[str, Any], exc: BaseException) -> None:
    result["status"] = "failed"
    result["error"] = f"{type(exc).__name__}: {exc}"
    result["traceback"] = "".join(traceback.format_exception(exc))[-4000:]


def _threadpools() -> list[dict[str, Any]] | dict[str, str]:
    try:
        from perfopt.profiling import threadpools

        return threadpools()
    except Exception as exc:  # noqa: BLE001 - the view is optional
        return {"unavailable": f"{type(exc).__name__}: {exc}"}


def _write(path: Path, result: dict[str, Any]) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(result, default=str), encoding="utf-8")
    os.replace(tmp, path)


if __name__ == "__main__":
    sys.exit(main())
