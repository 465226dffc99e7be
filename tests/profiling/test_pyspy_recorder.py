"""py-spy attribution on real processes, and the missing-py-spy path."""

from __future__ import annotations

import logging
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from perfopt.profiling import PySpyRecorder, native_status, profile_command, pyspy_available
from perfopt.profiling import _pyspy as pyspy_module

needs_pyspy = pytest.mark.skipif(
    not pyspy_available()[0], reason="py-spy missing or not permitted here"
)


def _top(categories: dict[str, float]) -> str:
    return max(categories, key=lambda c: categories[c])


@needs_pyspy
def test_pyspy_tells_io_bound_from_cpu_bound(
    tmp_path: Path, scripts: dict[str, Path], busy_cmd: Callable[[float, int], list[str]]
) -> None:
    io = profile_command(
        [sys.executable, str(scripts["io_bound"]), str(scripts["db"]), "1.5"], tmp_path / "io"
    )
    cpu = profile_command(busy_cmd(1.5, 1), tmp_path / "cpu")

    io_view, cpu_view = io["pyspy"], cpu["pyspy"]
    assert io_view["available"] and cpu_view["available"]
    assert io_view["samples"] >= 20 and cpu_view["samples"] >= 20
    assert _top(io_view["categories"]) in ("database IO", "waiting or idle")
    assert io_view["categories"]["database IO"] > 0.0
    assert io_view["categories"]["Python compute"] < 0.5
    computed = "Python compute" if native_status()[0] else "unclassified"
    assert _top(cpu_view["categories"]) == computed
    assert cpu_view["categories"][computed] > 0.7
    assert cpu_view["top_functions"][0]["function"] == "busy"
    assert Path(cpu_view["raw_path"]).stat().st_size > 0
    # The verdicts follow the samples (the IO script sleeps 2 ms every 200 queries).
    assert cpu["verdict"]["kind"] == ("cpu-python" if native_status()[0] else "unclassified")
    assert io["verdict"]["kind"] in ("io-database", "mixed")
    assert io["verdict"]["shares"]["io-database"] >= 0.3


@needs_pyspy
def test_recorder_follows_subprocesses(
    tmp_path: Path, busy_cmd: Callable[[float, int], list[str]]
) -> None:
    result = profile_command(busy_cmd(1.0, 2), tmp_path, hz=10)
    pids = {p["pid"] for p in result["pyspy"]["processes"]}
    assert len(pids) >= 2  # parent and forked child both sampled


@needs_pyspy
def test_recorder_stops_a_still_running_target(tmp_path: Path, scripts: dict[str, Path]) -> None:
    # A script file, not `python -c`: the classifier reads the sleeping line's source.
    proc = subprocess.Popen([sys.executable, str(scripts["sleeper"]), "30"])
    try:
        recorder = PySpyRecorder(proc.pid, tmp_path, rate=20)
        recorder.start()
        time.sleep(1.0)
        summary = recorder.stop()  # SIGINT makes py-spy write what it has
    finally:
        proc.kill()
        proc.wait()
    assert summary["available"]
    assert summary["samples"] > 0
    assert summary["categories"]["waiting or idle"] > 0.5


@needs_pyspy
def test_native_frames_are_recorded_where_they_work_and_the_fallback_says_why(
    tmp_path: Path, scripts: dict[str, Path]
) -> None:
    ok, why = native_status()
    proc = subprocess.Popen([sys.executable, str(scripts["sleeper"]), "30"])
    try:
        native = PySpyRecorder(proc.pid, tmp_path / "n", rate=20)
        assert ("--native" in native.command()) is ok
        assert native.native is ok and (native.native_reason is None) is ok
        if not ok:
            assert why and native.native_reason == why
        # --nonblocking cannot read native stacks: off, and the summary says why
        plain = PySpyRecorder(proc.pid, tmp_path / "p", rate=20, nonblocking=True)
        assert "--native" not in plain.command() and "--threads" in plain.command()
        plain.start()
        assert plain.wait_sampling()
        time.sleep(0.5)
        summary = plain.stop()
    finally:
        proc.kill()
        proc.wait()
    assert summary["native"] is False and "--nonblocking" in summary["native_reason"]
    assert summary["threads"] and summary["threads"][0]["tid"] == proc.pid


def test_missing_pyspy_is_reported_once_and_psutil_view_goes_on(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    busy_cmd: Callable[[float, int], list[str]],
) -> None:
    empty = tmp_path / "empty-bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))  # no py-spy (and nothing else) on PATH
    monkeypatch.setenv("PERFOPT_PYSPY", "")  # and none beside the interpreter either
    monkeypatch.setattr(pyspy_module, "_warned", set())
    assert shutil.which("py-spy") is None
    caplog.set_level(logging.WARNING, logger="perfopt.profiling")

    ok, reason = pyspy_available()
    assert not ok and "not found on PATH" in reason
    result = profile_command(busy_cmd(0.5, 1), tmp_path / "out")  # absolute python path

    assert result["pyspy"]["available"] is False
    assert "not found on PATH" in result["pyspy"]["reason"]
    assert result["psutil"]["cpu_user_s"] > 0.02  # however loaded the machine is
    assert result["psutil"]["processes"][0]["cmdline"].endswith("busy.py 0.5 1")
    assert result["exit_code"] == 0
    assert result["verdict"]["kind"] == "unclassified"  # CPU, but which code is unknown
    assert "py-spy: no samples (py-spy not found" in result["verdict"]["text"]
    warnings = [r for r in caplog.records if "py-spy" in r.getMessage()]
    assert len(warnings) == 1
