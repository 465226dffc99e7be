"""The runner with real child processes: failures, hangs, resume, masking, out folders."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from perfopt.harness import load, parse_spec, run_matrix
from perfopt.harness.runner import THREAD_CAP_VARS


def toy_spec(tmp_path: Path, modes: list[str], timeout: float = 3.0, extra: str = "") -> str:
    counter = tmp_path / "counter.txt"
    pidfile = tmp_path / "grandchild.pid"
    return f"""
name = "toytest"
repeats = 1
cell_timeout = {timeout}
pyspy = false
[[grid]]
name = "g"
workload = "toy"
fixed = {{ counter = "{counter}", pidfile = "{pidfile}", storage = "postgresql://u:secret@db.example/prod" }}
axes = {{ mode = {json.dumps(modes)} }}
{extra}
"""


def executions(tmp_path: Path) -> list[str]:
    path = tmp_path / "counter.txt"
    return path.read_text().splitlines() if path.exists() else []


def test_crash_hang_and_failure_are_recorded_and_the_matrix_goes_on(
    toy: str, tmp_path: Path, gone
) -> None:
    spec = parse_spec(toy_spec(tmp_path, ["crash", "hang", "fail", "ok", "invalid"]), "t.toml")
    run = run_matrix(spec, tmp_path / "run", runs_root=tmp_path / "runs", write_report=False)
    records = {r["params"]["mode"]: r for r in load(run.results_path)}
    assert records["crash"]["status"] == "failed"
    assert "SIGSEGV" in records["crash"]["error"]
    assert records["hang"]["status"] == "timeout"
    assert "timed out after 3 s in run" in records["hang"]["error"]
    assert records["fail"]["status"] == "failed"
    assert "ValueError: could not open storage" in records["fail"]["error"]
    assert records["ok"]["status"] == "ok"
    assert records["invalid"]["status"] == "skipped"
    assert records["invalid"]["error"] == "mode=invalid cannot run (test rule)"
    ok = records["ok"]
    assert ok["measurement"]["metrics"]["items_per_s"] > 0
    assert ok["measurement"]["info"]["prepared"] is True  # prepare ran before run
    assert ok["prepare_s"] is not None
    assert ok["repeats"] == [ok["measurement"]["seconds"]]
    assert ok["environment"]["cores_logical"] >= 1 and ok["environment"]["start_utc"]
    assert ok["attribution"]["psutil"]  # watched by the sampler (or says why not)
    # the hung cell's grandchild died with its process group
    grandchild = int((tmp_path / "grandchild.pid").read_text())
    assert gone(grandchild), f"grandchild {grandchild} survived the timeout"
    assert run.counts == {"failed": 2, "timeout": 1, "ok": 1, "skipped": 1}


def test_resume_skips_finished_cells(toy: str, tmp_path: Path) -> None:
    out = tmp_path / "run"
    spec = parse_spec(toy_spec(tmp_path, ["ok", "fail"]), "t.toml")
    run_matrix(spec, out, runs_root=tmp_path / "runs", write_report=False)
    assert sorted(executions(tmp_path)) == ["fail 1", "ok 1"]
    # same spec plus one new cell: only the new cell runs
    spec2 = parse_spec(
        toy_spec(tmp_path, ["ok", "fail"], extra="include = [{ size = 2 }]"), "t.toml"
    )
    run = run_matrix(spec2, out, resume=True, runs_root=tmp_path / "runs", write_report=False)
    assert sorted(executions(tmp_path)) == ["fail 1", "ok 1", "ok 2"]
    assert run.resumed == 2 and run.counts == {"ok": 1}
    assert len(load(out / "results.jsonl")) == 3
    # a half-written last line (a crash mid-write) is dropped and that cell reruns
    data = (out / "results.jsonl").read_text().splitlines(keepends=True)
    (out / "results.jsonl").write_text("".join(data[:-1]) + data[-1][:40])
    run = run_matrix(spec2, out, resume=True, runs_root=tmp_path / "runs", write_report=False)
    assert run.counts == {"ok": 1}
    assert sorted(executions(tmp_path)) == ["fail 1", "ok 1", "ok 2", "ok 2"]


def test_resume_without_earlier_run_is_refused(toy: str, tmp_path: Path) -> None:
    from perfopt.errors import UserError

    spec = parse_spec(toy_spec(tmp_path, ["ok"]), "t.toml")
    with pytest.raises(UserError, match="no earlier run"):
        run_matrix(spec, None, resume=True, runs_root=tmp_path / "runs", write_report=False)


def test_never_overwrites_an_earlier_run(toy: str, tmp_path: Path) -> None:
    spec = parse_spec(toy_spec(tmp_path, ["ok"]), "t.toml")
    first = run_matrix(spec, None, runs_root=tmp_path / "runs", write_report=False)
    assert first.out_dir.parent == tmp_path / "runs" and first.out_dir.name.endswith("-toytest")
    second = run_matrix(spec, first.out_dir, runs_root=tmp_path / "runs", write_report=False)
    assert second.out_dir != first.out_dir
    assert any("holds an earlier run" in n for n in second.notes)
    assert len(load(first.results_path)) == 1


def test_credentials_never_reach_outputs(toy: str, tmp_path: Path) -> None:
    spec = parse_spec(toy_spec(tmp_path, ["ok", "fail"]), "t.toml")
    run = run_matrix(spec, tmp_path / "run", runs_root=tmp_path / "runs")
    assert run.report_path is not None and run.report_path.exists()
    files = [p for p in (tmp_path / "run").rglob("*") if p.is_file()]
    assert any(p.name.startswith("stderr") for p in files)  # logs kept, masked
    for path in files:
        assert b"secret" not in path.read_bytes(), path
    text = run.results_path.read_text()
    assert "postgresql://u:***@db.example/prod" in text


def test_thread_caps_follow_worker_count(toy: str, tmp_path: Path) -> None:
    spec = parse_spec(
        toy_spec(tmp_path, ["ok"], extra="include = [{ workers = 2 }, { blas_threads = 3 }]"),
        "t.toml",
    )
    run = run_matrix(spec, tmp_path / "run", runs_root=tmp_path / "runs", write_report=False)
    records = load(run.results_path)
    caps = {
        (r["params"]["workers"], r["params"].get("blas_threads")): r["thread_caps"] for r in records
    }
    seen = {
        (r["params"]["workers"], r["params"].get("blas_threads")): r["measurement"]["info"][
            "omp_num_threads"
        ]
        for r in records
    }
    assert seen[(2, None)] == "1" and seen[(1, 3)] == "3"  # in force inside the child
    assert caps[(1, None)] == {}  # one process: BLAS keeps its own default
    assert caps[(2, None)] == {name: "1" for name in THREAD_CAP_VARS}
    assert caps[(1, 3)] == {name: "3" for name in THREAD_CAP_VARS}


def test_repeats_keep_each_run(toy: str, tmp_path: Path) -> None:
    spec = parse_spec(toy_spec(tmp_path, ["ok"]), "t.toml").with_overrides(repeats=3)
    run = run_matrix(spec, tmp_path / "run", runs_root=tmp_path / "runs", write_report=False)
    (record,) = load(run.results_path)
    assert len(record["repeats"]) == 3 and record["timing"]["n"] == 3
    assert record["timing"]["min_s"] <= record["timing"]["median_s"] <= record["timing"]["max_s"]
    assert record["measurement"]["seconds"] == record["timing"]["median_s"]
    assert len(executions(tmp_path)) == 3  # one fresh process per repeat


def test_pyspy_watches_one_extra_untimed_run(toy: str, tmp_path: Path) -> None:
    from perfopt.harness.views import pyspy_status

    text = toy_spec(tmp_path, ["busy"]).replace("pyspy = false", "pyspy = true")
    spec = parse_spec(text, "t.toml").with_overrides(repeats=2)
    run = run_matrix(spec, tmp_path / "run", runs_root=tmp_path / "runs", write_report=False)
    (record,) = load(run.results_path)
    spy = record["attribution"]["pyspy"]
    usable, reason = pyspy_status()
    if usable:
        assert len(executions(tmp_path)) == 3  # two timed runs plus the py-spy run
        assert len(record["repeats"]) == 2
        assert spy["run_status"] == "ok" and spy["run_seconds"] > 0
        assert spy["samples"] > 0 and sum(spy["categories"].values()) > 0.99
    else:  # recorded once with its reason, and the other views went on
        assert len(executions(tmp_path)) == 2
        assert any("py-spy view off" in n for n in run.notes) and reason
    assert record["attribution"]["psutil"]


def test_pyspy_attached_to_the_last_timed_run(toy: str, tmp_path: Path) -> None:
    from perfopt.harness.views import pyspy_status

    if not pyspy_status()[0]:
        pytest.skip("py-spy cannot read processes here")
    text = toy_spec(tmp_path, ["busy"]).replace(
        "pyspy = false", "pyspy = true\npyspy_separate = false"
    )
    spec = parse_spec(text, "t.toml").with_overrides(repeats=2)
    run = run_matrix(spec, tmp_path / "run", runs_root=tmp_path / "runs", write_report=False)
    (record,) = load(run.results_path)
    spy = record["attribution"]["pyspy"]
    assert len(executions(tmp_path)) == 2  # no extra run
    assert spy["attached_to_timed_run"] is True and spy["samples"] > 0
    assert spy["run_seconds"] == record["repeats"][-1]


def test_the_views_watch_the_run_not_the_exit(toy: str, tmp_path: Path) -> None:
    from perfopt.harness.views import pyspy_status

    if not pyspy_status()[0]:
        pytest.skip("py-spy cannot read processes here")
    text = toy_spec(tmp_path, ["busy-exit"]).replace(
        "pyspy = false", "pyspy = true\npyspy_separate = false"
    )
    run = run_matrix(
        parse_spec(text, "t.toml"),
        tmp_path / "run",
        runs_root=tmp_path / "runs",
        write_report=False,
    )
    (record,) = load(run.results_path)
    assert record["status"] == "ok"
    shares = {f["function"]: f["share"] for f in record["attribution"]["pyspy"]["top_functions"]}
    # the exit burns twice the run's work: watched to the end, it would lead; stopped at
    # "done", at most the few samples before py-spy's stop remain
    in_run, at_exit = shares.get("burn_in_run", 0.0), shares.get("burn_at_exit", 0.0)
    # watched to the end, the exit (twice the run's work) would hold twice the run's share
    assert in_run > 0 and at_exit < in_run, shares


def test_a_preload_module_that_is_missing_fails_the_cell_naming_it(
    toy: str, tmp_path: Path
) -> None:
    from perfopt.harness import register_workload, unregister_workload

    register_workload("toypreload", "harness_toy_workloads:MissingPreloadWorkload")
    try:
        text = toy_spec(tmp_path, ["ok"]).replace('workload = "toy"', 'workload = "toypreload"')
        run = run_matrix(
            parse_spec(text, "t.toml"),
            tmp_path / "run",
            runs_root=tmp_path / "runs",
            write_report=False,
        )
    finally:
        unregister_workload("toypreload")
    (record,) = load(run.results_path)
    assert record["status"] == "failed"
    assert "No module named 'perfopt_no_such_module' (in import)" in record["error"]
    assert executions(tmp_path) == []  # the run never started


def test_repeats_of_a_grid_run_interleaved(toy: str, tmp_path: Path) -> None:
    text = toy_spec(tmp_path, ["ok"], extra="include = [{ size = 2 }, { size = 3 }]")
    spec = parse_spec(text, "t.toml").with_overrides(repeats=3)
    run = run_matrix(spec, tmp_path / "run", runs_root=tmp_path / "runs", write_report=False)
    lines = load(run.results_path)
    assert len(lines) == 3 and all(len(r["runs"]) == 3 for r in lines)
    # round k runs the k-th repeat of every cell before any cell's (k+1)-th
    for k in range(3):
        orders = sorted(r["runs"][k]["order"] for r in lines)
        assert orders == [3 * k, 3 * k + 1, 3 * k + 2]
    # every repeat keeps its own metrics, not only the median's
    for r in lines:
        per_run = [run["metrics"]["items_per_s"] for run in r["runs"]]
        assert len(set(per_run)) == 3 and r["measurement"]["metrics"]["items_per_s"] in per_run


def test_until_ci_adds_repeats_only_where_the_interval_is_wide(toy: str, tmp_path: Path) -> None:
    from perfopt.harness.schedule import ScheduleOptions

    text = toy_spec(tmp_path, ["ok"], extra="include = [{ size = 2 }]")
    spec = parse_spec(text, "t.toml").with_overrides(repeats=3)
    # an interval of +-0.01% is out of reach: both cells grow to --max-repeats
    run = run_matrix(
        spec,
        tmp_path / "narrow",
        runs_root=tmp_path / "runs",
        write_report=False,
        options=ScheduleOptions(until_ci_pct=0.01, max_repeats=5),
    )
    assert sorted(len(r["runs"]) for r in load(run.results_path)) == [5, 5]
    # +-1000% is reached at once: the minimum stands
    run = run_matrix(
        spec,
        tmp_path / "wide",
        runs_root=tmp_path / "runs",
        write_report=False,
        options=ScheduleOptions(until_ci_pct=1000.0, max_repeats=5),
    )
    assert sorted(len(r["runs"]) for r in load(run.results_path)) == [3, 3]


def test_a_second_matrix_in_a_running_run_folder_is_refused(toy: str, tmp_path: Path) -> None:
    import subprocess
    import sys

    from perfopt.errors import UserError

    spec = parse_spec(toy_spec(tmp_path, ["ok"]), "t.toml")
    run = run_matrix(spec, tmp_path / "run", runs_root=tmp_path / "runs", write_report=False)
    # another process holds the folder, as a running matrix does (then dies: no stale lock)
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import fcntl, os, sys, time\n"
            f"fh = open({str(run.out_dir / '.lock')!r}, 'a+')\n"
            "fcntl.flock(fh, fcntl.LOCK_EX)\n"
            "fh.seek(0); fh.truncate(); fh.write(f'{os.getpid()}\\n'); fh.flush()\n"
            "print('held', flush=True)\n"
            "time.sleep(600)\n",
        ],
        stdout=subprocess.PIPE,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline() == b"held\n"
        with pytest.raises(
            UserError, match=rf"in use by a running perfopt matrix \(pid {holder.pid}\)"
        ):
            run_matrix(spec, run.out_dir, resume=True, runs_root=tmp_path / "runs")
    finally:
        holder.kill()
        holder.wait()
    again = run_matrix(spec, run.out_dir, resume=True, runs_root=tmp_path / "runs")
    assert again.resumed == 1  # the dead holder left no lock behind
