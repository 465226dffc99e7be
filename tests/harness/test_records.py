"""Typed results: one loader for every schema, fields instead of dict paths, lines back."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from perfopt.harness import records
from perfopt.harness.markdown import table
from perfopt.harness.overhead_verdict import judge_overhead
from perfopt.harness.records import CellRecord, RunRecord, Timing
from perfopt.harness.results import SCHEMA, append, timing

DATA = Path(__file__).parent / "data"


def _v3_line(cell_id: str = "c1") -> dict:
    seconds = [1.0, 1.2, 0.9]
    return {
        "schema": SCHEMA,
        "kind": "cell",
        "matrix": "m",
        "cell_id": cell_id,
        "label": "n_jobs=2",
        "workload": "optimize",
        "grid": "optimize",
        "params": {"n_jobs": 2},
        "baseline": False,
        "status": "ok",
        "error": None,
        "repeats": seconds,
        "runs": [
            {
                "seconds": s,
                "metrics": {"trials_per_s": 10 / s},
                "stages": {"load": 0.1},
                "order": i,
                "pyspy_attached": i == 0,
                "other_busy_cores": 0.1,
            }
            for i, s in enumerate(seconds)
        ],
        "timing": timing(seconds),
        "measurement": {
            "seconds": 1.0,
            "stages": {"load": 0.25, "load/parse": 0.2, "fit": 0.5},
            "metrics": {"trials_per_s": 10.0},
            "info": {"device": "cpu"},
        },
        "prepare_s": 0.3,
        "thread_caps": {"OMP_NUM_THREADS": "1"},
        "attribution": {
            "stages": {"load": 0.25},
            "psutil": {"available": True, "cpu_utilization_cores": 0.9, "cores_available": 2},
            "pyspy": {"available": True, "samples": 12, "categories": {"file IO": 0.6}},
            "oversubscription": {"oversubscribed": True, "reason": "3 threads on 2 cores"},
            "threadpools": None,
        },
        "verdict": {"kind": "CPU-bound", "text": "busy"},
        "problem_axes": {"seed": "a different random draw"},
        "environment": {"hostname": "box", "cores_available": 2, "git": {"commit": "abc"}},
    }


def test_a_schema_3_line_reads_as_fields_and_writes_back_unchanged(tmp_path: Path) -> None:
    path = tmp_path / "results.jsonl"
    append(path, _v3_line())
    [cell] = records.load(path).cells
    assert cell.timing == Timing.from_json(timing([1.0, 1.2, 0.9]))
    assert cell.runs[0] == RunRecord(1.0, {"trials_per_s": 10.0}, 0.1, {"load": 0.1}, 0, True)
    assert cell.pyspy_watched_a_timed_run and cell.other_busy_cores == pytest.approx(0.1)
    assert cell.metrics == {"trials_per_s": 10.0} and cell.device == "cpu"
    assert cell.psutil is not None and cell.psutil.cpu_utilization_cores == 0.9
    assert cell.cpu_cores_used == 0.9
    assert cell.pyspy is not None and cell.pyspy.sampled_categories == {"file IO": 0.6}
    assert cell.attribution is not None and cell.attribution.oversubscription is not None
    assert cell.attribution.oversubscription.reason == "3 threads on 2 cores"
    # nested "outer/inner" stages are left out; the top level shares the run
    assert cell.stage_shares() == {"load": 0.25, "fit": 0.5}
    assert cell.to_json() == json.loads(path.read_text())
    assert CellRecord.from_json(cell.to_json()) == cell


def test_schema_1_and_2_lines_load_through_the_same_loader(tmp_path: Path) -> None:
    old = records.load(DATA / "results-v1.jsonl")
    ok, failed = old.cells
    assert ok.runs == (RunRecord(0.812, {"total_s": 0.812, "compile_s": 0.55}),)
    assert ok.timing.median_s == 0.812 and failed.timing == Timing(0)
    assert failed.measurement is None and failed.error == "OperationalError: database is locked"
    assert ok.psutil is not None and ok.psutil.available is None  # schema 1 did not say
    assert ok.to_json()["schema"] == SCHEMA
    line = _v3_line()
    v2 = {k: v for k, v in line.items() if k not in ("runs", "problem_axes")}
    v2["schema"] = 2
    path = tmp_path / "v2.jsonl"
    path.write_text(json.dumps(v2) + "\n")
    [cell] = records.load(path).cells
    assert [r.seconds for r in cell.runs] == [1.0, 1.2, 0.9]
    # a schema 2 line declared no problem axes: the defaults apply
    assert cell.declared_problem_axes is None and "tickers" in cell.problem_axes


def test_the_overhead_line_is_typed_and_judged(tmp_path: Path) -> None:
    path = tmp_path / "results.jsonl"
    overhead = {
        "available": True,
        "hz": 10,
        "rate": 100,
        "repeats": 5,
        "median_s": {"bare": 1.0, "psutil": 1.01, "pyspy": 1.2},
        "seconds": {"bare": [1.0, 1.05]},
        "psutil_overhead": 0.01,
        "pyspy_overhead": 0.2,
        "psutil_cpu_cost": 0.01,
        "pyspy_cpu_cost": 0.15,
    }
    append(path, {"schema": SCHEMA, "kind": "overhead", "overhead": overhead})
    loaded = records.load(path)
    assert loaded.cells == [] and loaded.overhead is not None
    psutil, pyspy = judge_overhead(loaded.overhead)
    assert (psutil.verdict, pyspy.verdict) == ("PASS", "FAIL")
    assert psutil.wall_change == "+1.0% (within the bare runs' spread: noise)"
    assert pyspy.wall_change == "+20.0%" and pyspy.name == "py-spy (100 Hz)"


def test_the_table_helper_escapes_cells_and_keeps_an_empty_header() -> None:
    assert table(["", ""], [("a", "x | y")]) == ["| | |", "|---|---|", "| a | x \\| y |"]
    assert table(["k"], [("two\nlines",)]) == ["| k |", "|---|", "| two lines |"]
