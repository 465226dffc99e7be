"""`perfopt selfplay` as a new user meets it: human bytes, a line per game, a worker default."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("torch")

from perfopt.cli import main  # noqa: E402
from perfopt.cli.selfplay import default_workers  # noqa: E402


def test_worker_default_follows_the_plan() -> None:
    assert default_workers("serial", 64) == 1
    assert [default_workers("process", c) for c in (1, 2, 4, 16)] == [2, 2, 2, 8]


def test_selfplay_prints_human_bytes_and_progress(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    argv = ["selfplay", "--parallel", "server", "--start-method", "fork", "--games", "2"]
    argv += ["--simulations", "4", "--channels", "4", "--blocks", "0", "--out", str(tmp_path / "sp")]
    assert main(argv) == 0
    out, err = capsys.readouterr()
    assert "2 workers (default max(2, cores // 2)" in err
    assert "game 1/2 done" in err and "game 2/2 done" in err
    line = next(x for x in out.splitlines() if "bytes between processes" in x)
    sent = line.split("bytes between processes: ")[1].split(";")[0]
    assert sent.endswith(("B", "KiB", "MiB")) and not sent.isdigit()
