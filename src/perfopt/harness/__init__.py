"""The harness: matrix specs, a runner with one child process per cell, results, reports.

Data flows one way: spec -> cells -> child process per cell (watched by the profiling
views) -> results.jsonl -> target verdicts -> REPORT.md and plots. Workloads are reached
only through `perfopt.harness.registry`. Importing this package stays light: the runner,
report and plots import what they need when called.
"""

from __future__ import annotations

from perfopt.harness.cells import Cell, cell_id, expand
from perfopt.harness.masking import mask_tree, mask_url
from perfopt.harness.matrix import MatrixRun, run_matrix
from perfopt.harness.registry import register_workload, unregister_workload, workloads
from perfopt.harness.report import write_report
from perfopt.harness.results import SCHEMA, load
from perfopt.harness.spec import MatrixSpec, load_spec, parse_spec, preset_names
from perfopt.harness.sweep import sweep_spec
from perfopt.harness.targets import TARGETS, evaluate_all

__all__ = [
    "SCHEMA",
    "TARGETS",
    "Cell",
    "MatrixRun",
    "MatrixSpec",
    "cell_id",
    "evaluate_all",
    "expand",
    "load",
    "load_spec",
    "mask_tree",
    "mask_url",
    "parse_spec",
    "preset_names",
    "register_workload",
    "run_matrix",
    "sweep_spec",
    "unregister_workload",
    "workloads",
    "write_report",
]
