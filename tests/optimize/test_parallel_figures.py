"""scripts/parallel_figures.py on a small panel: the heap and parallel sections run and report."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from perfopt.data import generate_panel, write_panel

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "parallel_figures.py"


def test_the_figures_script_measures_the_heap_and_two_processes(tmp_path: Path) -> None:
    data = tmp_path / "panel"
    write_panel(generate_panel(12, "2023-01-02", "2025-12-31", seed=3), data)
    out = subprocess.run(
        [sys.executable, str(SCRIPT), "--data", str(data), "--only", "heap,parallel",
         "--storages", "journal", "--trials", "6", "--repeats", "2"],
        capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr[-3000:]
    text = out.stdout
    # Each section printed its rounds, then its ratios with an interval and n.
    assert len(re.findall(r"round \d --heap (keep|system)", text)) == 4
    heap_row = re.search(r"--heap keep  : mean trial [\d.]+ ms, run [\d.]+ s; per trial", text)
    assert heap_row, text
    assert re.search(r"keep over system: trial [\d.]+x \[[\d.]+, [\d.]+\], n=2/2", text), text
    assert re.search(r"journal +[\d.]+x \[[\d.]+, [\d.]+\], n=2/2", text), text
    assert "other processes used" in text
