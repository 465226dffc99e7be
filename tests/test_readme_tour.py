"""The README's tour leaves no stray files: every output lands in a folder git ignores."""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
IGNORED = ("data/", "runs/", "studies/")
OUTPUT_FLAGS = ("--out", "--json", "--reports-dir", "--studies-dir", "--summary-json")


def tour_commands() -> list[list[str]]:
    """The perfopt commands of the README's tour code block, continuation lines joined."""
    text = (ROOT / "README.md").read_text()
    block = text.split("## A short tour", 1)[1].split("```bash", 1)[1].split("```", 1)[0]
    block = re.sub(r"\\\n\s*", " ", block)
    cmds = []
    for line in block.splitlines():
        line = line.split("  #", 1)[0].strip()
        if line.startswith("perfopt "):
            cmds.append(shlex.split(line))
    return cmds


def test_every_tour_output_goes_to_an_ignored_folder() -> None:
    cmds = tour_commands()
    assert len(cmds) >= 10
    ignore = (ROOT / ".gitignore").read_text().split()
    assert all("/" + d in ignore for d in IGNORED)
    for argv in cmds:
        for i, word in enumerate(argv):
            if word in OUTPUT_FLAGS:
                assert argv[i + 1].startswith(IGNORED), argv
            if word == "--storage" and "://" in argv[i + 1]:
                assert argv[i + 1].split("://", 1)[1].startswith(IGNORED), argv
        if argv[1] == "optimize" and "--symbol" in argv and "--status" not in argv:
            assert "--reports-dir" in argv, argv  # the default, reports/, is in the repository


@pytest.mark.slow
def test_the_tours_cheap_writing_commands_leave_the_folder_clean(tmp_path: Path) -> None:
    """Run the intraday part of the tour, shrunk, in a git folder with the project's ignores."""
    if shutil.which("git") is None:
        pytest.skip("git is needed to ask what it would track")
    shutil.copy(ROOT / ".gitignore", tmp_path / ".gitignore")
    subprocess.run(["git", "init", "-q"], cwd=tmp_path, check=True)
    shrink = {"--n-trials": "3", "--days": "3", "--samples": "64", "--games": "2"}
    wanted = ("--freq", "--timeframe-grid", "sequences", "--status")
    for argv in tour_commands():
        if not any(w in argv for w in wanted):
            continue
        argv = [shrink.get(argv[i - 1], w) if i else w for i, w in enumerate(argv)]
        if "--status" in argv:
            continue  # reads only; its storage is the daily run's
        done = subprocess.run(
            [sys.executable, "-m", "perfopt", *argv[1:]], cwd=tmp_path, capture_output=True,
            text=True, timeout=600,
        )  # fmt: skip
        assert done.returncode == 0, (argv, done.stderr[-2000:])
    status = subprocess.run(
        ["git", "status", "--porcelain", "--untracked-files=all"], cwd=tmp_path,
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    assert status.strip() == "?? .gitignore"
    assert (tmp_path / "runs" / "tour" / "grid" / "grid_summary.json").is_file()
