"""Recommendations: only significant gains, only settings that keep the problem the same."""

from __future__ import annotations

from typing import Any

from perfopt.harness.recommend import recommend
from perfopt.harness.records import CellRecord

N = 0


def cell(
    params: dict[str, Any], times: list[float], baseline: bool = False, **kw: Any
) -> CellRecord:
    global N
    N += 1
    return CellRecord.from_line(
        {
            "schema": 3,
            "cell_id": f"optimize-{N:04d}",
            "workload": "optimize",
            "grid": "g",
            "params": params,
            "baseline": baseline,
            "status": "ok",
            "runs": [{"seconds": t, "metrics": {}} for t in times],
            "problem_axes": {
                "n_trials": "a different number of trials",
                "storage=memory": "keeps nothing",
            },
            "environment": {"hostname": "h", "cores_available": 2, **kw},
        }
    )


def test_a_one_percent_difference_with_overlapping_runs_is_not_recommended() -> None:
    base = cell({"n_jobs": 2}, [1.00, 1.05, 0.96], baseline=True)
    other = cell({"n_jobs": 1}, [0.99, 1.04, 0.95])
    (rec,) = recommend([base, other])
    assert rec.best is None and rec.candidates and not rec.candidates[0].significant


def test_a_clear_gain_is_recommended_with_its_interval() -> None:
    base = cell({"storage": "sqlite"}, [2.0, 2.1, 1.9], baseline=True)
    fast = cell({"storage": "journal"}, [1.0, 1.05, 0.95])
    (rec,) = recommend([base, fast])
    assert rec.best is not None and rec.best.cell is fast
    assert rec.best.gain.low > 1.0 and rec.best.change_text() == "storage=journal"


def test_settings_that_change_the_problem_are_not_candidates() -> None:
    base = cell({"storage": "sqlite", "n_trials": 20}, [2.0, 2.1, 1.9], baseline=True)
    memory = cell({"storage": "memory", "n_trials": 20}, [0.5, 0.5, 0.5])
    fewer = cell({"storage": "sqlite", "n_trials": 5}, [0.5, 0.5, 0.5])
    (rec,) = recommend([base, memory, fewer])
    assert rec.best is None and not rec.candidates
    assert {c.cell_id for c, _ in rec.excluded} == {memory.cell_id, fewer.cell_id}


def test_single_runs_recommend_nothing() -> None:
    base = cell({"n_jobs": 2}, [2.0], baseline=True)
    fast = cell({"n_jobs": 1}, [1.0])
    (rec,) = recommend([base, fast])
    assert rec.best is None


def test_a_gain_measured_on_a_busy_machine_is_not_recommended() -> None:
    # other jobs held a core during the runs: the gain says nothing either way
    def busy(c: CellRecord, cores: float) -> CellRecord:
        line = dict(c.raw)
        line["runs"] = [{**r, "other_busy_cores": cores} for r in line["runs"]]
        return CellRecord.from_line(line)

    base = cell({"storage": "sqlite"}, [2.0, 2.1, 1.9], baseline=True)
    fast = cell({"storage": "journal"}, [1.0, 1.05, 0.95])
    (rec,) = recommend([busy(base, 1.2), busy(fast, 1.1)])
    assert rec.best is None and rec.candidates[0].busy is not None
    assert "1.2 of 2 cores" in rec.candidates[0].busy
    (quiet,) = recommend([busy(base, 0.1), busy(fast, 0.2)])
    assert quiet.best is not None and quiet.best.cell.cell_id == fast.cell_id


def test_a_simpler_setting_the_faster_looking_one_does_not_beat_is_recommended() -> None:
    # chunk alone and chunk + AMP both beat the default; AMP adds nothing the runs can show
    base = cell({"loader": "per-sample", "amp": False}, [3.0, 3.1, 2.9], baseline=True)
    chunk = cell({"loader": "chunk", "amp": False}, [1.00, 1.08, 0.94])
    both = cell({"loader": "chunk", "amp": True}, [0.97, 0.92, 1.05])
    (rec,) = recommend([base, chunk, both])
    assert rec.best is not None and rec.best.cell is chunk
    assert rec.passed_over is not None and rec.passed_over[0].cell is both
    assert rec.passed_over[1].low < 1.0 < rec.passed_over[1].high


def test_the_extra_change_is_recommended_when_it_clearly_adds_speed() -> None:
    base = cell({"loader": "per-sample", "amp": False}, [3.0, 3.1, 2.9], baseline=True)
    chunk = cell({"loader": "chunk", "amp": False}, [1.00, 1.04, 0.97])
    both = cell({"loader": "chunk", "amp": True}, [0.50, 0.52, 0.49])
    (rec,) = recommend([base, chunk, both])
    assert rec.best is not None and rec.best.cell is both and rec.passed_over is None
