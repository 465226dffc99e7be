"""REPORT.md and plots: a pure, deterministic function of results.jsonl."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from perfopt.harness import write_report
from perfopt.harness.results import timing

DATA = Path(__file__).parent / "data"
ENV = {
    "hostname": "box",
    "cpu_model": "Test CPU",
    "cores_physical": 2,
    "cores_logical": 2,
    "cores_available": 2,
    "ram_bytes": 2**34,
    "gpu": [],
    "os": "Linux",
    "python": {
        "implementation": "CPython",
        "version": "3.11.7",
        "build": "main",
        "optimized": False,
    },
    "packages": {"numpy": "2.4.6"},
    "git": {"commit": "abc123", "dirty": False},
}


def record(
    n: int,
    params: dict[str, Any],
    repeats: list[float],
    stages: dict[str, float],
    cats: dict[str, float],
    status: str = "ok",
    baseline: bool = False,
    **metrics: float,
) -> dict[str, Any]:
    ok = status == "ok"
    seconds = sorted(repeats)[(len(repeats) - 1) // 2] if ok else None
    return {
        "schema": 2,
        "kind": "cell",
        "matrix": "sample",
        "cell_id": f"optimize-{n:010d}",
        "label": " ".join(f"{k}={v}" for k, v in sorted(params.items())),
        "workload": "optimize",
        "grid": "storage",
        "params": params,
        "baseline": baseline,
        "status": status,
        "error": None if ok else "StorageInternalError: database is locked\ntraceback...",
        "repeats": repeats if ok else [],
        "timing": timing(repeats if ok else []),
        "measurement": {"seconds": seconds, "stages": stages, "metrics": metrics, "info": {}}
        if ok
        else None,
        "prepare_s": 0.1,
        "attribution": {
            "stages": stages,
            "psutil": {
                "available": True,
                "samples": 20,
                "cpu_utilization_cores": 0.9,
                "cores_available": 2,
                "utilization_pct_of_available": 45.0,
                "cpu_user_s": 1.0,
                "cpu_system_s": 0.2,
                "peak_rss_bytes": 10**8,
                "read_bytes": 10**6,
                "write_bytes": 2 * 10**6,
                "max_threads": 4,
                "ctx_switches_voluntary": 10,
                "ctx_switches_involuntary": 5,
            },
            "pyspy": {
                "available": True,
                "samples": 100,
                "categories": cats,
                "top_functions": [{"function": "fetchall", "file": "x.py", "share": 0.5}],
            },
            "oversubscription": {"oversubscribed": False},
            "threadpools": [],
        }
        if ok
        else None,
        "verdict": "CPU 45% of 2 cores",
        "environment": {**ENV, "start_utc": f"2026-01-01T00:00:{n:02d}Z"},
    }


NAIVE = {"access": "naive", "executor": "local"}


def sample_records() -> list[dict[str, Any]]:
    io_stages = {"load": 4.0, "compute": 1.0}
    return [
        record(
            1,
            {**NAIVE, "storage": "sqlite", "mode": "trial", "n_jobs": 1},
            [5.0, 5.2, 4.9],
            io_stages,
            {"Python compute": 0.8, "database IO": 0.1, "waiting or idle": 0.1},
            baseline=True,
            trials_per_s=4.0,
        ),
        record(
            2,
            {**NAIVE, "storage": "sqlite", "mode": "trial", "n_jobs": 2},
            [3.0, 4.5, 2.0],
            io_stages,
            {"Optuna storage": 0.7, "Python compute": 0.3},
            trials_per_s=6.6,
        ),
        record(
            3,
            {"storage": "journal", "mode": "trial", "n_jobs": 1},
            [1.0],
            io_stages,
            {"Python compute": 0.9, "other": 0.1},
            trials_per_s=20.0,
        ),
        record(
            4,
            {"storage": "journal", "mode": "trial", "n_jobs": 2},
            [0.0004],
            {"load": 0.0001},
            {"Python compute": 1.0},
            trials_per_s=50000.0,
        ),
        record(
            5,
            {"storage": "postgresql", "mode": "trial", "n_jobs": 2},
            [1.0],
            {},
            {},
            status="failed",
        ),
        {
            "schema": 2,
            "kind": "overhead",
            "matrix": "sample",
            "overhead": {
                "available": True,
                "repeats": 3,
                "hz": 10.0,
                "rate": 50,
                "median_s": {"bare": 1.0, "psutil": 1.01, "pyspy": 1.05},
                "seconds": {"bare": [1.0, 1.02, 0.99]},
                "psutil_overhead": 0.01,
                "pyspy_overhead": 0.05,
                "psutil_cpu_cost": 0.008,
                "pyspy_cpu_cost": 0.12,
            },
            "environment": ENV,
        },
    ]


def write_results(path: Path, records: list[dict[str, Any]]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    return path


def test_rerendering_is_byte_identical(tmp_path: Path) -> None:
    results = write_results(tmp_path / "run" / "results.jsonl", sample_records())
    first = write_report(results, tmp_path / "a")
    second = write_report(results, tmp_path / "b")
    assert first.read_bytes() == second.read_bytes()
    plots_a = sorted(p.name for p in (tmp_path / "a" / "plots").iterdir())
    assert plots_a == ["optimize-attribution.png", "optimize-scaling.png"]
    for name in plots_a:
        assert (tmp_path / "a" / "plots" / name).read_bytes() == (
            tmp_path / "b" / "plots" / name
        ).read_bytes()
    # default folder: next to the results file; same text again
    third = write_report(results)
    assert third == results.parent / "REPORT.md"
    assert third.read_text() == first.read_text()


def test_report_content(tmp_path: Path) -> None:
    results = write_results(tmp_path / "results.jsonl", sample_records())
    text = write_report(results).read_text()
    # environment, then target verdicts first, before any workload table
    assert (
        text.index("## Environment")
        < text.index("## Target verdicts")
        < text.index("## Workload: optimize")
    )
    # every ratio with its interval and n; a parallel claim past 2 cores is projected
    assert "| target | verdict | measured | 95% interval | n | core bound | efficiency |" in text
    assert (
        "| trial-parallel-2-3x | **INCONCLUSIVE** | 2.48x at 4 workers | [0.26, 23.25] | 3/3 | 2x | 83% |"
        in text
    )
    assert "no speedup is established here yet" in text
    assert "1.66x [0.61, 4.51], n=3/3" in text and "projected at 4 workers" in text
    # a table of the params that vary, with metrics and the speed against the default
    assert (
        "| cell | access | executor | n_jobs | storage | status | median s | n | spread | "
        "speed vs default [95%] | trials_per_s |" in text
    )
    assert "Same in every cell: mode=trial." in text
    # no recommendation from runs whose intervals overlap, or from single runs
    assert "no setting is significantly faster than the default" in text
    assert "the closest: `n_jobs=2` 1.68x [0.62, 4.56], n=3/3" in text
    # pyperf-style warnings: a large spread and a tiny timing
    assert "optimize-0000000002`: the standard deviation is" in text
    assert "too short to time reliably" in text
    # the three views side by side, and a note where they disagree
    assert "| cell | stage timers | psutil (whole process tree) | py-spy | verdict |" in text
    assert "stage timers put 80% in data stages but py-spy sees 80% compute" in text
    # failures listed with the first line of their reason
    assert (
        "| `optimize-0000000005` | optimize | mode=trial n_jobs=2 storage=postgresql | failed | StorageInternalError: database is locked |"
        in text
    )
    # the views' overhead: CPU cost against the targets, wall change against the noise
    assert (
        "| psutil sampler (10.0 Hz) | 0.8% | <= 2% | PASS | 1.01 s | +1.0% (within the bare runs' spread: noise) |"
        in text
    )
    assert "| py-spy (50 Hz) | 12.0% | <= 10% | FAIL | 1.05 s | +5.0% |" in text
    assert "![optimize-scaling](plots/optimize-scaling.png)" in text


def test_golden_v1_report_is_stable(tmp_path: Path) -> None:
    a = write_report(DATA / "results-v1.jsonl", tmp_path / "a").read_text()
    b = write_report(DATA / "results-v1.jsonl", tmp_path / "b").read_text()
    assert a == b and "# perfopt report" in a


def test_the_report_says_what_starting_and_ending_the_runs_cost(tmp_path: Path) -> None:
    lines = sample_records()
    assert "timed runs:" not in write_report(write_results(tmp_path / "a.jsonl", lines)).read_text()
    line = {**lines[0], "schema": 3}
    line["runs"] = [
        {"seconds": 2.0, "startup_s": 0.5, "exit_s": 0.25, "started": "fork"},
        {"seconds": 3.0, "startup_s": 4.0, "exit_s": 1.0, "started": "exec"},
    ]
    text = write_report(write_results(tmp_path / "b" / "results.jsonl", [line])).read_text()
    assert (
        '2 timed runs: 5 s measured; 4.5 s from starting their processes to their "ready" '
        "(imports and prepare; 1 forked from a warm launcher, 1 started as new interpreters) "
        'and 1.25 s from "done" to their exit, none of it timed.'
    ) in text
