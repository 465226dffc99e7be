"""The harness: matrix specs, a runner with one child process per cell, results, reports.

Data flows one way: spec -> cells -> child process per cell (watched by the profiling
views) -> results.jsonl -> target verdicts -> REPORT.md and plots. Workloads are reached
only through `perfopt.harness.registry`. Names below are imported on first use, so the
cell's child process (`perfopt.harness.child`) pays only for what it needs.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "SCHEMA": "perfopt.harness.results",
    "load": "perfopt.harness.results",
    "TARGETS": "perfopt.harness.targets",
    "evaluate_all": "perfopt.harness.targets",
    "Cell": "perfopt.harness.cells",
    "cell_id": "perfopt.harness.cells",
    "expand": "perfopt.harness.cells",
    "mask_tree": "perfopt.urls",
    "mask_url": "perfopt.urls",
    "MatrixRun": "perfopt.harness.matrix",
    "run_matrix": "perfopt.harness.matrix",
    "register_workload": "perfopt.harness.registry",
    "unregister_workload": "perfopt.harness.registry",
    "workloads": "perfopt.harness.registry",
    "write_report": "perfopt.harness.report",
    "MatrixSpec": "perfopt.harness.spec",
    "load_spec": "perfopt.harness.spec",
    "parse_spec": "perfopt.harness.spec",
    "preset_names": "perfopt.harness.spec",
    "sweep_spec": "perfopt.harness.sweep",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'perfopt.harness' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))
