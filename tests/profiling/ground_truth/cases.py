"""Programs of known behaviour and the verdict kind each must get (the ground truth).

Used by `test_ground_truth.py` and by `scripts/attribution_accuracy.py`. Each program is
a few seconds long, bounded by wall time (not by work) so a loaded machine cannot stretch
it. `prepare(folder)` writes the data files the programs read (a 256 MiB file on a disk
filesystem for the disk reader, an SQLite table, an HDF5 dataset); delete the folder
after.
"""

from __future__ import annotations

import os
import sqlite3
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

PROGRAMS = Path(__file__).resolve().parent / "programs"
SECONDS = 2.0
DISK_FILE_BYTES = 256 << 20
_MEMORY_FILESYSTEMS = {"tmpfs", "ramfs", "devtmpfs"}


@dataclass(frozen=True)
class Case:
    """A program, the kind it must get, and how to run it given the prepared files."""

    name: str
    truth: str
    describe: str
    argv: Callable[[Mapping[str, Path]], list[str]]
    env: Mapping[str, str] = field(default_factory=dict)


def _script(name: str, *args: object) -> list[str]:
    return [sys.executable, str(PROGRAMS / name), *(str(a) for a in args)]


CASES: tuple[Case, ...] = (
    Case(
        "sleep",
        "waiting",
        'python -c "import time; time.sleep(2)"',
        lambda f: [sys.executable, "-c", f"import time; time.sleep({SECONDS})"],
    ),
    Case(
        "disk-read",
        "io-disk",
        "os.preadv on an O_DIRECT descriptor over a 256 MiB file",
        lambda f: _script("disk_read.py", f["disk_file"], SECONDS),
    ),
    Case(
        "sqlite-points",
        "io-database",
        "a script looping over sqlite3 point queries",
        lambda f: _script("sqlite_points.py", f["sqlite"], SECONDS),
    ),
    Case(
        "matmul-2-blas",
        "cpu-native",
        "numpy matmul with 2 OpenBLAS threads",
        lambda f: _script("matmul.py", SECONDS),
        {"OPENBLAS_NUM_THREADS": "2", "OMP_NUM_THREADS": "2", "MKL_NUM_THREADS": "2"},
    ),
    Case(
        "shell-child",
        "cpu-native",
        "Python parent running a CPU-busy bash loop",
        lambda f: _script("shell_child.py", SECONDS),
    ),
    Case(
        "pool-2",
        "cpu-python",
        "multiprocessing.Pool(2) of busy Python on 2 cores; the parent only waits",
        lambda f: _script("pool.py", SECONDS, 2),
    ),
    Case(
        "pool-4",
        "oversubscribed",
        "Pool(4) of busy Python on 2 cores",
        lambda f: _script("pool.py", SECONDS, 4),
    ),
    Case(
        "cpu-then-sleep",
        "mixed",
        "1.5 s busy Python then 1.5 s asleep",
        lambda f: _script("cpu_then_sleep.py", 1.5),
    ),
    Case(
        "socket-loopback",
        "io-network",
        "socket server (child process) and client on loopback, 256 KiB replies",
        lambda f: _script("socket_pingpong.py", SECONDS),
    ),
    Case(
        "hdf5-read",
        "io-disk",
        "h5py read loop over a dataset, page cache dropped each pass",
        lambda f: _script("hdf5_read.py", f["hdf5"], SECONDS),
    ),
    Case(
        "exit-2",
        "failed",
        "a program that exits with status 2",
        lambda f: [sys.executable, "-c", "import sys; sys.exit(2)"],
    ),
)
# The shares a mixed case must show: each of these kinds at 30% or more.
MIXED_PARTS = {"cpu-then-sleep": ("cpu-python", "waiting")}


def filesystem_type(path: Path) -> str:
    """The type of the filesystem holding `path`, from /proc/mounts ("" if unknown)."""
    best, kind = "", ""
    try:
        mounts = Path("/proc/mounts").read_text().splitlines()
    except OSError:
        return ""
    target = str(path.resolve())
    for line in mounts:
        parts = line.split()
        if len(parts) < 3 or len(parts[1]) < len(best):
            continue
        if target == parts[1] or target.startswith(parts[1].rstrip("/") + "/"):
            best, kind = parts[1], parts[2]
    return kind


def disk_folder(preferred: Path, fallback: Path) -> Path | None:
    """A folder on a disk filesystem (not tmpfs): `preferred`, else `fallback`, else None."""
    for folder in (preferred, fallback):
        if filesystem_type(folder) not in _MEMORY_FILESYSTEMS:
            return folder
    return None


def prepare(folder: Path, disk: Path | None = None) -> dict[str, Path]:
    """Write the programs' data files under `folder` (the big file under `disk`)."""
    import h5py
    import numpy as np

    folder.mkdir(parents=True, exist_ok=True)
    files = {}
    big = (disk or folder) / "ground-truth-disk.bin"
    big.parent.mkdir(parents=True, exist_ok=True)
    chunk = np.random.default_rng(1).bytes(1 << 20)
    with open(big, "wb") as f:
        for _ in range(DISK_FILE_BYTES >> 20):
            f.write(chunk)
        f.flush()
        os.fsync(f.fileno())
    files["disk_file"] = big
    db = folder / "points.sqlite"
    con = sqlite3.connect(db)
    con.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, a REAL, b REAL, c TEXT)")
    con.executemany(
        "INSERT INTO t VALUES (?, ?, ?, ?)", ((i, i * 0.5, i * 2.0, f"r{i}") for i in range(20000))
    )
    con.commit()
    con.close()
    files["sqlite"] = db
    h5 = (disk or folder) / "ground-truth.h5"
    with h5py.File(h5, "w") as f:
        f.create_dataset("x", data=np.random.default_rng(2).random((16384, 1024), dtype=np.float32))
    files["hdf5"] = h5
    return files
