"""`perfopt matrix`, `perfopt sweep` and `perfopt report` end to end, and Ctrl-C."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from perfopt.cli import main
from perfopt.harness import load

HERE = Path(__file__).resolve().parent


@pytest.fixture(autouse=True)
def _cache_in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Keep the cells' cache out of the checkout's runs/ folder."""
    monkeypatch.setenv("PERFOPT_CACHE_DIR", str(tmp_path / "cache"))


def test_sweep_over_a_real_command(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = "import sys; print('PERFOPT_METRIC doubled=' + str(2 * {n})); sys.exit(1 if '{mode}' == 'bad' else 0)"
    out = tmp_path / "sweep"
    rc = main(
        [
            "sweep",
            "--axis",
            "n=1,2",
            "--axis",
            "mode=good,bad",
            "--out",
            str(out),
            "--no-pyspy",
            "--",
            sys.executable,
            "-c",
            code,
        ]
    )
    assert rc == 3  # two cells failed: the documented status (the results are complete)
    records = load(out / "results.jsonl")
    assert len(records) == 4
    by = {(r["params"]["n"], r["params"]["mode"]): r for r in records}
    assert by[(2, "good")]["status"] == "ok"
    assert by[(2, "good")]["measurement"]["metrics"] == {"doubled": 4.0}
    assert by[(1, "bad")]["status"] == "failed" and "exit status 1" in by[(1, "bad")]["error"]
    stdout = capsys.readouterr().out
    assert f"report written to {out / 'REPORT.md'}" in stdout
    assert (out / "REPORT.md").exists()


def test_sweep_bad_input_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["sweep", "--axis", "n=1", "--", "perfopt-no-such-program", "{n}"]) == 2
    assert "'perfopt-no-such-program' not found on PATH" in capsys.readouterr().err
    assert main(["sweep", "--axis", "n=1", "--", sys.executable, "-c", "{m}"]) == 2
    assert "uses {m} but no --axis gives it" in capsys.readouterr().err
    assert main(["sweep", "--axis", "n", "--", sys.executable]) == 2
    assert "must look like NAME=V1,V2" in capsys.readouterr().err
    assert main(["sweep", "--axis", "n=1,2", "--", sys.executable, "-V"]) == 2
    assert "not used by the command" in capsys.readouterr().err
    assert main(["sweep", "--"]) == 2
    assert "no command given" in capsys.readouterr().err


def test_matrix_errors_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["matrix", "--preset", "nope"]) == 2
    assert "valid presets: device, full, quick" in capsys.readouterr().err
    bad = tmp_path / "bad.toml"
    bad.write_text("[[grid]\n")
    assert main(["matrix", "--preset", str(bad)]) == 2
    err = capsys.readouterr().err
    assert str(bad) in err and "line 1" in err
    assert main(["report", str(tmp_path / "missing.jsonl")]) == 2


def test_matrix_file_then_report_rerender(
    toy: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    spec = tmp_path / "m.toml"
    spec.write_text(
        'name = "cli"\npyspy = false\n[[grid]]\nworkload = "toy"\naxes = { size = [1, 2], mode = ["ok"] }\n'
    )
    out = tmp_path / "run"
    assert main(["matrix", "--preset", str(spec), "--out", str(out), "--only", "size=2"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == f"{out / 'results.jsonl'}: 1 ok"
    assert lines[1] == f"report written to {out / 'REPORT.md'}"
    assert [r["params"]["size"] for r in load(out / "results.jsonl")] == [2]
    assert main(["matrix", "--preset", str(spec), "--out", str(out), "--resume"]) == 0
    assert "1 ok; 1 already done" in capsys.readouterr().out
    assert main(["report", str(out / "results.jsonl"), "--out", str(tmp_path / "again")]) == 0
    assert (tmp_path / "again" / "REPORT.md").read_bytes() == (out / "REPORT.md").read_bytes()
    assert main(["matrix", "--preset", str(spec), "--only", "[unclosed"]) == 2
    assert "not a valid regular expression" in capsys.readouterr().err


def test_ctrl_c_kills_the_running_cell_and_resume_keeps_finished_repeats(
    tmp_path: Path, gone
) -> None:
    pidfile, counter = tmp_path / "grandchild.pid", tmp_path / "counter.txt"
    spec = tmp_path / "m.toml"
    spec.write_text(
        'name = "cc"\npyspy = false\nrepeats = 2\ncell_timeout = 300\n[[grid]]\n'
        'workload = "toy"\n'
        f'fixed = {{ pidfile = "{pidfile}", counter = "{counter}" }}\n'
        'axes = { mode = ["ok", "hang", "ok"], size = [1] }\n'
        'include = [{ mode = "ok", size = 2 }]\n'
    )
    env = {
        **os.environ,
        "PERFOPT_EXTRA_WORKLOADS": "toy=harness_toy_workloads:ToyWorkload",
        "PYTHONPATH": os.pathsep.join(filter(None, [str(HERE), os.environ.get("PYTHONPATH")])),
    }
    out = tmp_path / "run"
    cmd = [sys.executable, "-m", "perfopt", "matrix", "--preset", str(spec), "--out", str(out)]
    proc = subprocess.Popen(
        cmd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,
        cwd=tmp_path,
    )
    deadline = time.monotonic() + 60
    while not pidfile.exists() or not pidfile.read_text():
        assert time.monotonic() < deadline and proc.poll() is None, proc.communicate()
        time.sleep(0.05)
    grandchild = int(pidfile.read_text())
    os.kill(proc.pid, signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert b"--resume" in err
    assert gone(grandchild, 10), "the cell's grandchild survived Ctrl-C"
    # the grid was not finished: no cell line yet, but every finished repeat is kept
    assert (out / "results.jsonl").read_text() == ""
    before = counter.read_text().splitlines()
    assert "hang 1" in before
    kept = sorted(p.parent.name for p in out.glob("cells/*/repeat-r*.json"))
    assert len(kept) == len([x for x in before if x.startswith("ok")])
    # resume (the hang now times out): kept repeats are not run again
    done = subprocess.run(
        [*cmd, "--resume", "--cell-timeout", "1"], env=env, capture_output=True, cwd=tmp_path
    )
    assert done.returncode == 3, done.stderr  # the timed-out cell: exit 3
    runs = counter.read_text().splitlines()
    assert sorted(x for x in runs if x.startswith("ok")) == ["ok 1", "ok 1", "ok 2", "ok 2"]
    records = [json.loads(line) for line in (out / "results.jsonl").read_text().splitlines()]
    by_mode = {(r["params"]["mode"], r["params"]["size"]): r for r in records}
    assert by_mode[("hang", 1)]["status"] == "timeout"
    assert len(by_mode[("ok", 1)]["runs"]) == 2 and len(by_mode[("ok", 2)]["runs"]) == 2
    assert not list(out.glob("cells/*/repeat-*.json"))  # folded into the cell lines


def test_matrix_flags_are_checked_before_any_work(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    base = ["matrix", "--preset", "quick", "--out", str(tmp_path / "run")]
    assert main([*base, "--repeats", "0"]) == 2
    assert "--repeats must be at least 1, got 0" in capsys.readouterr().err
    assert main([*base, "--until-ci", "-5"]) == 2
    assert "--until-ci must be a finite number > 0, got -5" in capsys.readouterr().err
    assert main([*base, "--until-ci", "nan"]) == 2
    assert main([*base, "--budget", "60"]) == 2
    assert "add --until-ci" in capsys.readouterr().err
    assert not (tmp_path / "run").exists()


def test_dry_run_lists_the_cells_and_runs_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["matrix", "--preset", "quick", "--dry-run", "--repeats", "4"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert any("optimize-scaling" in line and "n_jobs=2" in line for line in out)
    assert all("[4 runs]" in line or "skipped" in line for line in out[:-1])
    assert out[-1].endswith("timed runs") and "cells" in out[-1]
    assert not Path("runs").exists() or not any(Path("runs").glob("*-quick"))
