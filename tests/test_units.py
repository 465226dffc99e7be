"""Human units: one formatter for bytes, durations, percentages and counts; '-' for missing."""

from __future__ import annotations

import math

import pytest

from perfopt.units import fmt_bytes, fmt_count, fmt_duration, fmt_number, fmt_pct, fmt_value


@pytest.mark.parametrize(
    ("n", "text"),
    [(0, "0 B"), (512, "512 B"), (12406261, "11.8 MiB"), (1536, "1.50 KiB"), (3 * 2**30, "3.00 GiB")],
)
def test_bytes(n: int, text: str) -> None:
    assert fmt_bytes(n) == text


@pytest.mark.parametrize(
    ("s", "text"),
    [
        (0.00085, "850 us"),
        (0.0123, "12.3 ms"),
        (4.213, "4.21 s"),
        (41.0, "41.0 s"),
        (125, "2 min 05 s"),
        (3725, "1 h 02 min"),
    ],
)
def test_durations(s: float, text: str) -> None:
    assert fmt_duration(s) == text


def test_missing_values_read_as_a_dash_never_nan() -> None:
    for f in (fmt_bytes, fmt_duration, fmt_pct, fmt_count, fmt_number, fmt_value):
        assert f(None) == "-"
        assert f(math.nan) == "-"
    assert fmt_pct(0.415, 1) == "41.5%"
    assert fmt_count(378000) == "378,000"
    assert fmt_number(16.848618507385254) == "16.85"
    assert fmt_value(True) == "true"


def test_the_report_tables_show_a_dash_for_nan() -> None:
    from perfopt.harness import report

    assert report._num(math.nan) == "-"
    assert report._num(None) == "-"
    assert report._num(0.001807) == "0.001807"


def test_optimize_summary_durations_have_no_nan() -> None:
    from perfopt.optimize.summary import _fmt

    assert _fmt(math.nan) == "-"
    assert _fmt(None) == "-"
    assert _fmt(0.0123) == "12.3 ms"
