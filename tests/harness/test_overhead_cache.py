"""The views' overhead is measured at most once a day per machine and toolchain, and says so."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from perfopt.harness.overhead_cache import MAX_AGE_S, calibration_key, overhead_line
from perfopt.harness.verdict_sections import overhead_section
from perfopt.harness.view_records import OverheadRecord

ENV = {
    "hostname": "vm",
    "cpu_model": "AMD EPYC",
    "cores_logical": 2,
    "cores_available": 2,
    "python": {"version": "3.11.7"},
    "packages": {"py-spy": "0.4.3", "psutil": "7.2.2", "perfopt": "0.1.0"},
    "git": {"commit": "abc", "dirty": False},
}
LINE = {
    "available": True,
    "repeats": 3,
    "median_s": {"bare": 1.0, "psutil": 1.0, "pyspy": 1.1},
    "seconds": {"bare": [1.0, 1.01, 0.99]},
    "psutil_overhead": 0.0,
    "pyspy_overhead": 0.1,
    "psutil_cpu_cost": 0.01,
    "pyspy_cpu_cost": 0.05,
}


class Measure:
    """Counts the measurements asked for; returns `line`."""

    def __init__(self, line: dict[str, Any]) -> None:
        self.line, self.calls = line, 0

    def __call__(self) -> dict[str, Any]:
        self.calls += 1
        return dict(self.line)


def test_a_measurement_is_reused_for_a_day_then_measured_again(tmp_path: Path) -> None:
    measure, clock = Measure(LINE), [1000.0]
    first = overhead_line(tmp_path, ENV, measure, now=lambda: clock[0])
    assert measure.calls == 1 and "reused_from" not in first
    clock[0] += MAX_AGE_S - 1
    again = overhead_line(tmp_path, ENV, measure, now=lambda: clock[0])
    assert measure.calls == 1 and again["reused_from"] and again["pyspy_cpu_cost"] == 0.05
    text = "\n".join(overhead_section(OverheadRecord.from_json({"overhead": again})))
    assert "reused by this run" in text and again["reused_from"] in text
    clock[0] += 2
    assert "reused_from" not in overhead_line(tmp_path, ENV, measure, now=lambda: clock[0])
    assert measure.calls == 2


def test_another_machine_or_toolchain_measures_its_own(tmp_path: Path) -> None:
    measure = Measure(LINE)
    overhead_line(tmp_path, ENV, measure)
    for change in (
        {"cores_available": 1},
        {"packages": {**ENV["packages"], "py-spy": "0.4.4"}},
        {"git": {"commit": "def", "dirty": False}},
        {"hostname": "other"},
    ):
        other = {**ENV, **change}
        assert calibration_key(other) != calibration_key(ENV)
        assert "reused_from" not in overhead_line(tmp_path, other, measure)
    assert measure.calls == 5
    assert "reused_from" in overhead_line(tmp_path, ENV, measure)


def test_a_failed_or_unreadable_measurement_is_not_kept(tmp_path: Path) -> None:
    failed = Measure({"available": False, "reason": "py-spy missing"})
    assert overhead_line(tmp_path, ENV, failed) == {"available": False, "reason": "py-spy missing"}
    assert list(tmp_path.iterdir()) == []
    (tmp_path / f"view-overhead-{calibration_key(ENV)}.json").write_text("{not json")
    measure = Measure(LINE)
    assert "reused_from" not in overhead_line(tmp_path, ENV, measure)
    assert measure.calls == 1 and "reused_from" in overhead_line(tmp_path, ENV, measure)
