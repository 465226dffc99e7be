"""The report shows perfopt's own speed from a real pytest-benchmark JSON and asv folder."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from perfopt.cli import main
from perfopt.errors import UserError
from perfopt.harness.selfspeed import load_asv_results, load_pytest_benchmark

GOLDEN = Path(__file__).parent / "data" / "results-v1.jsonl"
BIN = Path(sys.executable).parent


@pytest.fixture(scope="module")
def benchmark_json(tmp_path_factory) -> Path:
    work = tmp_path_factory.mktemp("pytest_benchmark")
    (work / "test_tiny.py").write_text(
        "def test_sum(benchmark):\n"
        "    benchmark.group = 'tiny'\n"
        "    assert benchmark(sum, range(1000)) == 499500\n"
    )
    out = work / "bench.json"
    subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(work / "test_tiny.py"),
         f"--benchmark-json={out}", "--benchmark-max-time=0.05", "-o", "addopts="],
        cwd=work, check=True, capture_output=True,
    )  # fmt: skip
    return out


@pytest.fixture(scope="module")
def asv_results(tmp_path_factory) -> Path:
    project = tmp_path_factory.mktemp("asv_project")
    (project / "benchmarks").mkdir()
    (project / "benchmarks" / "__init__.py").write_text("")
    (project / "benchmarks" / "bench.py").write_text(
        textwrap.dedent(
            """
            class Suite:
                params = [10, 100]
                param_names = ["n"]

                def time_sum(self, n):
                    sum(range(n))

                def track_answer(self, n):
                    return 42.0
            """
        )
    )
    (project / "asv.conf.json").write_text(
        json.dumps(
            {
                "version": 1,
                "project": "tiny",
                "repo": ".",
                "branches": ["main"],
                "environment_type": "existing",
                "results_dir": "results",
                "html_dir": "html",
                "benchmark_dir": "benchmarks",
            }
        )  # fmt: skip
    )

    def git(*args: str) -> None:
        subprocess.run(["git", *args], cwd=project, check=True, capture_output=True)

    git("init", "-q", "-b", "main")
    git("-c", "user.email=t@t", "-c", "user.name=t", "add", ".")
    git("-c", "user.email=t@t", "-c", "user.name=t", "commit", "-q", "-m", "tiny")
    asv = shutil.which("asv", path=str(BIN)) or "asv"
    subprocess.run(
        [asv, "machine", "--yes", "--machine", "testbox"],
        cwd=project,
        check=True,
        capture_output=True,
    )
    subprocess.run(
        [asv, "run", "--python=same", "--quick", "--set-commit-hash", "HEAD", "--machine", "testbox"],
        cwd=project, check=True, capture_output=True,
    )  # fmt: skip
    return project / "results"


def test_pytest_benchmark_rows(benchmark_json):
    run = load_pytest_benchmark(benchmark_json)
    assert [(r["group"], r["name"]) for r in run["rows"]] == [("tiny", "test_sum")]
    assert run["rows"][0]["median_s"] > 0


def test_asv_rows(asv_results):
    asv = load_asv_results(asv_results)
    assert asv["machines"] == ["testbox"] and len(asv["commits"]) == 1
    names = {r["benchmark"] for r in asv["rows"]}
    assert {
        "bench.Suite.time_sum(10)",
        "bench.Suite.time_sum(100)",
        "bench.Suite.track_answer(10)",
    } <= names
    answer = next(r for r in asv["rows"] if r["benchmark"] == "bench.Suite.track_answer(10)")
    assert answer["value"] == 42.0


def test_report_shows_own_speed_beside_the_matrix(tmp_path, capsys, benchmark_json, asv_results):
    results = tmp_path / "results.jsonl"
    shutil.copy(GOLDEN, results)
    argv = [
        "report",
        str(results),
        "--benchmark-json",
        str(benchmark_json),
        "--asv-results",
        str(asv_results),
    ]
    assert main(argv) == 0
    text = (tmp_path / "REPORT.md").read_text()
    assert text.index("## Target verdicts") < text.index("## perfopt's own speed")
    assert "| tiny | `test_sum` |" in text
    assert "`bench.Suite.track_answer(100)` | 42 |" in text
    first = text
    assert main(argv) == 0
    assert (tmp_path / "REPORT.md").read_text() == first, "re-rendering is identical"


def test_bad_inputs_are_named(tmp_path):
    bad = tmp_path / "x.json"
    bad.write_text("{}")
    with pytest.raises(UserError, match="not a pytest-benchmark JSON"):
        load_pytest_benchmark(bad)
    with pytest.raises(UserError, match="not found"):
        load_asv_results(tmp_path / "nowhere")
