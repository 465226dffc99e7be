"""`perfopt backtest --workers 2 --start-method spawn` says why it is slow; data generate talks."""

from __future__ import annotations

from pathlib import Path

from perfopt.cli import main


def test_a_spawned_pair_of_workers_says_start_up_is_the_cost(capsys, small_data: Path) -> None:
    argv = ["backtest", "--data", str(small_data), "--workers", "2", "--start-method", "spawn"]
    assert main(argv) == 0
    out = capsys.readouterr().out
    # a small panel: starting two spawned workers (imports, numba cache) outweighs the work
    assert "note: " in out and "went to starting 2 workers (spawn)" in out
    assert "compare with --workers 1" in out
    assert "sharding (in total): " in out and "worker_start " in out
    assert main(["backtest", "--data", str(small_data)]) == 0
    assert "note: " not in capsys.readouterr().out  # one worker: no start-up to explain


def test_data_generate_reports_each_step_on_stderr(capsys, tmp_path: Path) -> None:
    argv = ["data", "generate", "--tickers", "3", "--days", "20", "--out", str(tmp_path / "d")]
    assert main(argv) == 0
    out, err = capsys.readouterr()
    steps = [line for line in err.splitlines() if line.startswith("[")]
    assert [s.split("] ", 1)[1].split(" ")[1] for s in steps[1:]] == [
        "prices.sqlite", "prices.parquet", "prices.h5",
    ]  # fmt: skip
    assert steps[0].split("] ", 1)[1].startswith("generated 3 tickers x 20 days")
    assert "wrote 3 tickers x 20 dates" in out
