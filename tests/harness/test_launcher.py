"""Repeats forked from a warm launcher: fresh processes, one launcher per environment."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from perfopt.harness import (
    launcher,
    load,
    parse_spec,
    register_workload,
    run_matrix,
    unregister_workload,
)

pytestmark = pytest.mark.skipif(not launcher.supported(), reason="cell launchers need Linux")


def _spec(cell_start: str) -> str:
    return f"""
name = "probe"
repeats = 3
cell_timeout = 30
pyspy = false
cell_start = "{cell_start}"
[[grid]]
name = "g"
workload = "probe"
axes = {{ workers = [1, 2] }}
"""


def _runs(tmp_path: Path, cell_start: str) -> dict[int, list[dict]]:
    spec = parse_spec(_spec(cell_start), "t.toml")
    run = run_matrix(spec, tmp_path / cell_start, runs_root=tmp_path, write_report=False)
    out: dict[int, list[dict]] = {}
    for record in load(run.results_path):
        assert record["status"] == "ok", record["error"]
        out[record["params"]["workers"]] = record
    return out


def test_forked_repeats_are_fresh_processes_that_skip_the_imports(
    probe: str, tmp_path: Path
) -> None:
    records = _runs(tmp_path, "fork")
    for record in records.values():
        # the median repeat's facts; every repeat is its own process
        info = record["measurement"]["info"]
        assert info["imported_in"] != info["pid"]  # imported once, in the launcher
        assert info["session_leader"]  # its own session, as a Popen'd cell
        assert record["runs"][0]["startup_s"] is not None
        assert {r["started"] for r in record["runs"]} == {"fork"}
    # thread caps differ (2 workers cap BLAS at 1): the environment keys the launcher
    assert (
        records[1]["measurement"]["info"]["imported_in"]
        != records[2]["measurement"]["info"]["imported_in"]
    )
    assert records[2]["measurement"]["info"]["omp_num_threads"] == "1"
    assert (
        records[1]["measurement"]["info"]["omp_num_threads"] != "1"
        or os.environ.get("OMP_NUM_THREADS") == "1"
    )


def test_forked_repeats_do_not_share_random_state(probe: str, tmp_path: Path) -> None:
    log = tmp_path / "probe.log"
    text = _spec("fork").replace("[1, 2]", "[1]") + f'fixed = {{ log = "{log}" }}\n'
    run = run_matrix(parse_spec(text, "t.toml"), tmp_path / "r", runs_root=tmp_path)
    (record,) = load(run.results_path)
    assert record["status"] == "ok", record["error"]
    lines = [line.split() for line in log.read_text().splitlines()]
    assert len(lines) == 3
    assert len({pid for pid, _ in lines}) == 3  # three processes
    assert len({draw for _, draw in lines}) == 3  # reseeded: no repeat replays another


def test_exec_starts_a_new_interpreter_per_repeat(probe: str, tmp_path: Path) -> None:
    info = _runs(tmp_path, "exec")[1]["measurement"]["info"]
    assert info["imported_in"] == info["pid"]


def test_a_preload_that_starts_a_thread_gets_new_interpreters(
    probe: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    register_workload("probethreads", "harness_toy_workloads:ThreadedPreloadWorkload")
    try:
        text = _spec("fork").replace('"probe"', '"probethreads"').replace("[1, 2]", "[1]")
        run = run_matrix(parse_spec(text, "t.toml"), tmp_path / "r", runs_root=tmp_path)
    finally:
        unregister_workload("probethreads")
    (record,) = load(run.results_path)
    assert record["status"] == "ok", record["error"]
    info = record["measurement"]["info"]
    assert info["imported_in"] == info["pid"]  # imported in its own interpreter
    assert {r["started"] for r in record["runs"]} == {"exec"}
    assert "started 1 Python thread(s)" in caplog.text


def test_a_bad_cell_start_is_refused_naming_the_value() -> None:
    from perfopt.errors import UserError

    with pytest.raises(UserError, match="cell_start must be one of fork, exec, got 'warm'"):
        parse_spec(_spec("warm"), "t.toml")
