"""StageTimer: exact numbers from an injected clock."""

from __future__ import annotations

import pytest

from perfopt.profiling import StageTimer


class FakeClock:
    """A clock that moves only when told to."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def test_nested_and_repeated_stages_give_exact_totals() -> None:
    clock = FakeClock()
    timer = StageTimer(clock=clock)
    with timer.stage("data"):
        clock.advance(2.0)
    for _ in range(3):
        with timer.stage("backtest"):
            clock.advance(0.5)
            with timer.stage("signals"):
                clock.advance(1.0)
            with timer.stage("returns"):
                clock.advance(0.25)
    assert timer.as_dict() == {
        "data": 2.0,
        "backtest": 3 * 1.75,
        "backtest/signals": 3.0,
        "backtest/returns": 0.75,
    }


def test_as_dict_is_a_plain_copy_in_start_order() -> None:
    clock = FakeClock()
    timer = StageTimer(clock=clock)
    with timer.stage("outer"), timer.stage("inner"):
        clock.advance(1.0)
    result = timer.as_dict()
    assert type(result) is dict
    assert list(result) == ["outer", "outer/inner"]
    result["outer"] = 99.0
    assert timer.as_dict()["outer"] == 1.0


def test_stage_records_time_when_the_block_raises() -> None:
    clock = FakeClock()
    timer = StageTimer(clock=clock)
    with pytest.raises(RuntimeError), timer.stage("load"):
        clock.advance(3.0)
        raise RuntimeError("boom")
    with timer.stage("next"):  # the failed stage left no nesting behind
        clock.advance(1.0)
    assert timer.as_dict() == {"load": 3.0, "next": 1.0}


@pytest.mark.parametrize("name", ["", "a/b"])
def test_bad_stage_names_are_refused(name: str) -> None:
    with pytest.raises(ValueError), StageTimer().stage(name):
        pass


def test_default_clock_measures_real_time() -> None:
    timer = StageTimer()
    with timer.stage("work"):
        sum(range(10_000))
    assert timer.as_dict()["work"] > 0.0
