"""Small real programs for the profiling tests (busy loops, SQLite point queries)."""

from __future__ import annotations

import sqlite3
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest

# Fixed seconds of busy Python; time-based so a loaded machine does not stretch the test.
BUSY = textwrap.dedent(
    """
    import sys, time

    def busy(seconds):
        end = time.perf_counter() + seconds
        x = 0
        while time.perf_counter() < end:
            for i in range(1000):
                x += i * i
        return x

    seconds = float(sys.argv[1])
    processes = int(sys.argv[2])
    if processes == 2:
        import multiprocessing as mp
        child = mp.get_context("fork").Process(target=busy, args=(seconds,))
        child.start()
        busy(seconds)
        child.join()
    else:
        busy(seconds)
    """
)

IO_BOUND = textwrap.dedent(
    """
    import sqlite3, sys, time

    con = sqlite3.connect(sys.argv[1])
    cur = con.cursor()
    end = time.perf_counter() + float(sys.argv[2])
    i = 0
    while time.perf_counter() < end:
        for _ in range(200):
            i = (i * 7919 + 1) % 5000
            cur.execute("SELECT v FROM t WHERE id = ?", (i,)).fetchone()
        time.sleep(0.002)
    """
)


SLEEPER = "import time\ntime.sleep(float(__import__('sys').argv[1]))\n"


@pytest.fixture(scope="session")
def scripts(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Write the busy-loop and SQLite scripts and a 5000-row database file."""
    root = tmp_path_factory.mktemp("profiling-scripts")
    (root / "busy.py").write_text(BUSY)
    (root / "io_bound.py").write_text(IO_BOUND)
    (root / "sleeper.py").write_text(SLEEPER)
    db = root / "points.sqlite"
    con = sqlite3.connect(db)
    con.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, v REAL)")
    con.executemany("INSERT INTO t VALUES (?, ?)", ((i, i * 0.5) for i in range(5000)))
    con.commit()
    con.close()
    return {
        "busy": root / "busy.py",
        "io_bound": root / "io_bound.py",
        "sleeper": root / "sleeper.py",
        "db": db,
    }


@pytest.fixture(scope="session")
def busy_cmd(scripts: dict[str, Path]) -> Callable[[float, int], list[str]]:
    """Build the command line of the busy loop: (seconds, processes 1 or 2) -> argv."""

    def build(seconds: float, processes: int) -> list[str]:
        return [sys.executable, str(scripts["busy"]), str(seconds), str(processes)]

    return build
