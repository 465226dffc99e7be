"""manifest.json: an interrupted `data generate` is refused, changed stores are found."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

from perfopt.cli import main


def _info(capsys, folder: Path) -> tuple[int, str, str]:
    rc = main(["data", "info", str(folder)])
    captured = capsys.readouterr()
    return rc, captured.out, captured.err


def test_a_complete_folder_is_verified(capsys, tmp_path):
    assert main(["data", "generate", "--tickers", "4", "--days", "20", "--out", str(tmp_path)]) == 0
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    assert manifest["state"] == "complete" and set(manifest["files"]) == {"sqlite", "parquet", "hdf5"}
    rc, out, _ = _info(capsys, tmp_path)
    assert rc == 0 and "manifest: complete" in out


def test_an_interrupted_generate_is_refused_until_written_again(capsys, tmp_path):
    folder = tmp_path / "d"
    gen = [sys.executable, "-m", "perfopt", "data", "generate", "--tickers", "300", "--out",
           str(folder)]  # fmt: skip
    subprocess.run([*gen, "--seed", "1"], check=True, capture_output=True, timeout=120)
    proc = subprocess.Popen([*gen, "--seed", "2"], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120
    while json.loads((folder / "manifest.json").read_text())["state"] != "writing":
        assert proc.poll() is None, "the second generate ended before it could be interrupted"
        assert time.monotonic() < deadline
        time.sleep(0.005)
    os.kill(proc.pid, signal.SIGKILL)  # no cleanup runs: as a power cut would leave it
    proc.communicate(timeout=30)
    rc, _, err = _info(capsys, folder)
    assert rc == 2 and "was interrupted" in err and len(err.strip().splitlines()) == 1
    for source in ("sqlite", "parquet", "hdf5"):
        rc = main(["backtest", "--data", str(folder), "--source", source])
        err = capsys.readouterr().err
        assert rc == 2 and "was interrupted" in err, source
    subprocess.run([*gen, "--seed", "2"], check=True, capture_output=True, timeout=120)
    rc, out, _ = _info(capsys, folder)
    assert rc == 0 and "manifest: complete" in out
    assert not list(folder.glob("*.tmp"))


def test_a_store_swapped_from_another_folder_is_found(capsys, tmp_path):
    for seed in (1, 2):
        argv = ["data", "generate", "--tickers", "4", "--days", "20", "--seed", str(seed),
                "--out", str(tmp_path / str(seed))]  # fmt: skip
        assert main(argv) == 0
    # Same shape, other numbers: the same size, so only the hash tells them apart.
    shutil.copy(tmp_path / "2" / "prices.h5", tmp_path / "1" / "prices.h5")
    rc, _, err = _info(capsys, tmp_path / "1")
    assert rc == 2 and "prices.h5 changed" in err
