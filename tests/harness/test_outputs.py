"""`perfopt sweep --out DIR` writes into DIR only (its cells' cache included)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path


def test_sweep_with_out_writes_nothing_in_the_current_folder(tmp_path: Path) -> None:
    cwd, out = tmp_path / "cwd", tmp_path / "out"
    cwd.mkdir()
    env = {k: v for k, v in os.environ.items() if k != "PERFOPT_CACHE_DIR"}
    done = subprocess.run(
        [sys.executable, "-m", "perfopt", "sweep", "--axis", "n=1", "--no-pyspy", "--out",
         str(out), "--", sys.executable, "-c", "print({n})"],
        cwd=cwd, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert list(cwd.iterdir()) == []  # no runs/cache here any more
    assert (out / "results.jsonl").exists() and (out / "cache").is_dir()
