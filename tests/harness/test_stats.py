"""The statistics module: ratios with intervals, runs to decide, scaling fits."""

from __future__ import annotations

import math

import pytest

from perfopt.harness import stats


def test_ratio_of_identical_runs_has_a_point_interval() -> None:
    r = stats.ratio([2.0, 2.0, 2.0], [1.0, 1.0, 1.0])
    assert r.value == pytest.approx(0.5) and r.low == r.high == pytest.approx(0.5)
    assert r.enough and r.n == 3


def test_ratio_interval_contains_the_value_and_widens_with_spread() -> None:
    tight = stats.ratio([1.0, 1.01, 0.99], [2.0, 2.02, 1.98])
    loose = stats.ratio([1.0, 1.3, 0.7], [2.0, 2.6, 1.4])
    assert tight.low < tight.value < tight.high
    assert tight.value == pytest.approx(2.0, rel=1e-3) and loose.value == pytest.approx(
        2.0, rel=0.05
    )
    assert loose.half_width > 5 * tight.half_width


def test_ratio_with_one_run_has_no_interval_and_is_not_enough() -> None:
    r = stats.ratio([1.0], [2.0])
    assert r.low is None and r.high is None and not r.enough
    assert "no interval" in r.text()


def test_inverted_swaps_sides() -> None:
    r = stats.ratio([1.0, 1.1, 0.9], [2.0, 2.1, 1.9])
    inv = r.inverted()
    assert inv.value == pytest.approx(1 / r.value)
    assert inv.low == pytest.approx(1 / r.high) and inv.high == pytest.approx(1 / r.low)


def test_runs_to_decide_grows_as_the_claim_nears() -> None:
    r = stats.ratio([1.0, 1.1, 0.9], [1.8, 2.0, 1.6])
    far, near = stats.runs_to_decide(r, 1.2), stats.runs_to_decide(r, 1.6)
    assert far is not None and near is not None and far < near
    assert stats.runs_to_decide(r, r.value) is None  # on the claim: nothing decides


def test_a_ratio_of_a_positive_and_nothing_is_refused() -> None:
    with pytest.raises(ValueError):
        stats.ratio([], [1.0])


def test_level_interval() -> None:
    lv = stats.level([0.02, 0.021, 0.019])
    assert lv.low < lv.value < lv.high and lv.enough
    assert not stats.level([1.0]).enough


def _exact(speedup: float) -> stats.Ratio:
    return stats.ratio([1.0, 1.001, 0.999], [speedup * f for f in (1.0, 1.001, 0.999)])


def test_amdahl_fit_recovers_the_serial_fraction() -> None:
    points = [(w, _exact(stats.amdahl(w, 0.2))) for w in (2,)]
    fit = stats.fit_scaling(points, "amdahl")
    assert fit is not None and fit.params[0] == pytest.approx(0.2, abs=1e-3)
    proj = stats.project(fit, 4)
    assert proj.value == pytest.approx(2.5, rel=1e-3) and proj.low < 2.5 < proj.high


def test_usl_fit_recovers_both_parameters_and_projects() -> None:
    points = [(w, _exact(stats.usl(w, 0.1, 0.02))) for w in (2, 4, 8)]
    fit = stats.fit_scaling(points, "usl")
    assert fit is not None
    assert fit.params[0] == pytest.approx(0.1, abs=5e-3)
    assert fit.params[1] == pytest.approx(0.02, abs=1e-3)
    assert stats.project(fit, 16).value == pytest.approx(stats.usl(16, 0.1, 0.02), rel=0.02)


def test_fits_need_enough_points() -> None:
    assert stats.fit_scaling([], "amdahl") is None
    assert stats.fit_scaling([(2, _exact(1.5))], "usl") is None
    assert math.isclose(stats.amdahl(1, 0.3), 1.0) and math.isclose(stats.usl(1, 0.3, 0.1), 1.0)
