"""results.jsonl: schema migration, refusal of newer files, masking, half-written lines."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from perfopt.errors import UserError
from perfopt.harness import SCHEMA, load, mask_tree, mask_url
from perfopt.harness.report import render
from perfopt.harness.results import append, timing

DATA = Path(__file__).parent / "data"


def test_v1_golden_file_migrates_to_current() -> None:
    records = load(DATA / "results-v1.jsonl")
    assert [r["schema"] for r in records] == [SCHEMA, SCHEMA]
    ok, failed = records
    assert ok["kind"] == "cell"
    assert ok["repeats"] == [0.812]
    assert ok["timing"]["median_s"] == 0.812 and ok["timing"]["n"] == 1
    assert ok["measurement"]["metrics"]["compile_s"] == 0.55
    assert ok["attribution"]["psutil"]["cpu_utilization_cores"] == 0.97
    assert ok["attribution"]["pyspy"]["categories"]["numeric compute"] == 0.7
    assert ok["attribution"]["stages"]["signals"] == 0.6
    assert ok["label"] == "days=756 engine=numba source=parquet tickers=500"
    assert failed["status"] == "failed" and failed["measurement"] is None
    assert failed["repeats"] == [] and failed["error"] == "OperationalError: database is locked"
    # and a migrated file renders
    text = render(records)
    assert "backtest-0123456789" in text and "database is locked" in text


def test_newer_schema_is_refused_naming_file_and_versions(tmp_path: Path) -> None:
    path = tmp_path / "results.jsonl"
    path.write_text(json.dumps({"schema": SCHEMA + 1, "cell_id": "x"}) + "\n")
    with pytest.raises(UserError) as err:
        load(path)
    message = str(err.value)
    assert f"{path}:1" in message
    assert f"schema {SCHEMA + 1}" in message and f"schema {SCHEMA})" in message


def test_line_without_schema_and_garbage_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "results.jsonl"
    path.write_text('{"cell_id": "x"}\n')
    with pytest.raises(UserError, match="no integer 'schema'"):
        load(path)
    path.write_text("not json\n" + json.dumps({"schema": SCHEMA, "kind": "overhead"}) + "\n")
    with pytest.raises(UserError, match=r"results.jsonl:1: not a JSON line"):
        load(path)
    with pytest.raises(UserError, match="does not exist"):
        load(tmp_path / "missing.jsonl")


def test_half_written_last_line_is_ignored(tmp_path: Path) -> None:
    path = tmp_path / "results.jsonl"
    path.write_text(json.dumps({"schema": SCHEMA, "kind": "overhead"}) + '\n{"schema": 2, "ce')
    assert len(load(path)) == 1


def test_append_masks_credentials(tmp_path: Path) -> None:
    path = tmp_path / "results.jsonl"
    append(
        path,
        {
            "schema": SCHEMA,
            "kind": "overhead",
            "params": {"storage": "postgresql://u:secret@h/db"},
            "error": "cannot connect to mysql://root:hunter2@10.0.0.1/x password=pw1",
        },
    )
    text = path.read_text()
    for secret in ("secret", "hunter2", "pw1"):
        assert secret not in text
    assert "postgresql://u:***@h/db" in text and "mysql://root:***@10.0.0.1/x" in text


def test_mask_helpers() -> None:
    assert mask_url("sqlite:///tmp/x.db") == "sqlite:///tmp/x.db"
    assert (
        mask_url("postgresql+psycopg://postgres@127.0.0.1/test")
        == "postgresql+psycopg://postgres@127.0.0.1/test"
    )
    assert mask_tree({"a://u:p@h": ["b://v:q@h", 3]}) == {"a://u:***@h": ["b://v:***@h", 3]}


def test_timing_summary() -> None:
    t = timing([1.0, 2.0, 3.0])
    assert t["median_s"] == 2.0 and t["min_s"] == 1.0 and t["max_s"] == 3.0
    assert t["spread_pct"] == pytest.approx(50.0)
    assert timing([]) == {"n": 0}


def test_schema_2_runs_are_rebuilt_from_the_median_run() -> None:
    from perfopt.harness.results import migrate

    line = {
        "schema": 2,
        "kind": "cell",
        "cell_id": "x",
        "workload": "optimize",
        "params": {},
        "status": "ok",
        "timing": {},
        "attribution": None,
        "repeats": [2.0, 1.0, 4.0],
        "measurement": {
            "seconds": 2.0,
            "metrics": {"trials_per_s": 10.0, "mean_trial_s": 0.1, "complete": 20},
        },
    }
    new = migrate(line, "test")
    assert new["schema"] == SCHEMA
    runs = new["runs"]
    assert [r["seconds"] for r in runs] == [2.0, 1.0, 4.0]
    # a throughput scales inversely with the run's seconds, a time in proportion,
    # a count not at all
    assert [r["metrics"]["trials_per_s"] for r in runs] == [10.0, 20.0, 5.0]
    assert [r["metrics"]["mean_trial_s"] for r in runs] == pytest.approx([0.1, 0.05, 0.2])
    assert {r["metrics"]["complete"] for r in runs} == {20}
