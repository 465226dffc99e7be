"""`perfopt profile` end to end through the real command-line entry point."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from perfopt.cli import main
from perfopt.profiling import measure_overhead, native_status, pyspy_available, verdict_text


def test_cli_prints_views_and_verdict_and_writes_profile_json(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], busy_cmd: Callable[[float, int], list[str]]
) -> None:
    out = tmp_path / "prof"
    status = main(
        [
            "profile",
            "--rate",
            "40",
            "--interval-hz",
            "15",
            "--out",
            str(out),
            "--",
            *busy_cmd(0.8, 1),
        ]
    )
    printed = capsys.readouterr().out
    assert status == 0
    profile = json.loads((out / "profile.json").read_text())
    assert f"verdict: {verdict_text(profile['verdict'])}" in printed
    assert printed.rstrip().endswith(f"wrote {out / 'profile.json'}")
    assert "psutil (process tree, 15 Hz" in printed
    assert "thread states (/proc" in printed
    assert "threads vs cores:" in printed
    # what the views cost is printed and recorded
    assert "views' cost (target used" in printed
    assert profile["overhead"]["sampler_cpu_s"] > 0
    if pyspy_available()[0]:
        assert profile["pyspy"]["rate"] == 40
        assert profile["overhead"]["pyspy_cpu_s"] > 0
        assert "Python compute" in printed
    if native_status()[0]:
        assert profile["pyspy"]["native"] is True
        assert profile["verdict"]["kind"] == "cpu-python"
    else:  # without native frames, Python frames are not evidence of Python compute
        assert profile["verdict"]["kind"] == "unclassified"


def test_cli_default_out_never_reuses_a_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    cmd = ["profile", "--no-pyspy", "--", sys.executable, "-c", "pass"]
    assert main(cmd) == 0
    assert main(cmd) == 0  # same second, most likely: gets a suffixed folder
    folders = sorted((tmp_path / "runs").iterdir())
    assert len(folders) == 2
    assert all(f.name.startswith("profile-") and (f / "profile.json").exists() for f in folders)
    assert "py-spy: not available (turned off" in capsys.readouterr().out


def test_cli_errors_exit_2_before_running(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["profile", "--out", str(tmp_path / "a"), "--", "no-such-command-xyz"]) == 2
    assert "command not found: 'no-such-command-xyz'" in capsys.readouterr().err
    assert main(["profile", "--out", str(tmp_path / "a")]) == 2
    assert "no command to profile" in capsys.readouterr().err
    assert not (tmp_path / "a" / "profile.json").exists()
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "profile.json").write_text("{}")
    assert main(["profile", "--out", str(tmp_path / "b"), "--", sys.executable, "-c", "pass"]) == 2
    assert "exists" in capsys.readouterr().err
    assert main(["profile", "--rate", "0", "--", "true"]) == 2  # a usage error: one line


def test_failing_command_gives_exit_status_1(tmp_path: Path) -> None:
    status = main(
        [
            "profile",
            "--no-pyspy",
            "--out",
            str(tmp_path),
            "--",
            sys.executable,
            "-c",
            "raise SystemExit(4)",
        ]
    )
    assert status == 1
    assert json.loads((tmp_path / "profile.json").read_text())["exit_code"] == 4


def test_importing_profiling_stays_light() -> None:
    code = (
        "import sys, perfopt.profiling, perfopt.cli\n"
        "heavy = {'torch', 'numba', 'optuna', 'numpy', 'threadpoolctl'} & set(sys.modules)\n"
        "assert not heavy, heavy\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


@pytest.mark.slow
def test_measure_overhead_reports_ratios(busy_cmd: Callable[[float, int], list[str]]) -> None:
    result = measure_overhead(busy_cmd(0.5, 1), repeats=1)
    native = native_status()[0]
    assert set(result["seconds"]) == {"bare", "psutil", "pyspy"} | (
        {"pyspy_native"} if native else set()
    )
    assert all(len(v) == 1 and v[0] > 0.4 for v in result["seconds"].values())
    assert result["psutil_overhead"] > -0.5 and result["pyspy_overhead"] > -0.5
    assert result["pyspy_native"] is native
    if native:
        assert result["pyspy_native_cpu_cost"] > 0
    else:
        assert result["pyspy_native_reason"]
