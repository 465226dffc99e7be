"""The torch figures of issue 5, each from real `perfopt train` / `perfopt selfplay` runs.

Usage: python scripts/torch_figures.py [--device cpu|cuda]

Prints, for this machine: the epoch time of the per-sample loader against the chunk
loader (data wait vs compute) with AMP off and on; self-play games/s for MCTS batch 1,
8 and 32 (serial), and serial vs 2 workers in each parallel mode with the start-up cost
of each worker. Data is generated under a temporary folder.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

PERFOPT = [sys.executable, "-m", "perfopt"]
SEQUENCES = ["--samples", "4096", "--seq-len", "64", "--features", "16"]
GAMES = ["--games", "16", "--simulations", "32", "--seed", "0"]


def perfopt(args: list[str]) -> subprocess.CompletedProcess[str]:
    """Run one perfopt command; its own one-line error on a refused input."""
    return subprocess.run([*PERFOPT, *args], capture_output=True, text=True)


def describe_cut(per_sample: list[float], chunk: list[float]) -> str:
    """The chunk loader's effect on the epoch, in words, with the spread of each loader.

    Each list holds the timed epochs of one loader (after the warm-up epoch). A negative
    cut reads "the chunk loader was slower", and when the two loaders' ranges overlap the
    difference is called what it is: within the run-to-run spread.
    """
    a, b = statistics.median(per_sample), statistics.median(chunk)
    cut = 1 - b / a

    def spread(xs: list[float]) -> str:
        m = statistics.median(xs)
        return f"{min(xs):.3f}-{max(xs):.3f} s ({100 * (max(xs) - min(xs)) / m:.0f}% of the median)"

    ranges = (
        f"per-sample epochs {spread(per_sample)}, chunk epochs {spread(chunk)} over "
        f"{len(per_sample)} and {len(chunk)} timed epochs"
    )
    overlap = min(per_sample) <= max(chunk) and min(chunk) <= max(per_sample)
    noise = "; the ranges overlap: within the spread, no difference shown" if overlap else ""
    if cut >= 0:
        return f"chunk loader cuts the epoch by {100 * cut:.1f}% ({ranges}{noise})"
    return (
        f"the chunk loader was slower: its epoch took {100 * (b / a - 1):.1f}% longer "
        f"({ranges}{noise}; on a busy machine a loader that reads less can still lose to "
        "other processes' load)"
    )


def train(data: Path, out: Path, loader: str, amp: bool, device: str) -> dict[str, Any] | str:
    """Three epochs with one loader (the first is a warm-up); the result, or why it did not run."""
    result = out / f"train-{loader}-{amp}.json"
    args = ["train", "--data", str(data), "--loader", loader, "--epochs", "3", "--no-progress"]
    args += ["--batch-size", "128", "--device", device, "--json", str(result)]
    args += ["--amp" if amp else "--no-amp"]
    done = perfopt(args)
    if done.returncode != 0:
        return (done.stderr.strip().splitlines() or ["failed"])[-1]
    return json.loads(result.read_text())


def selfplay(out: Path, device: str, *args: str) -> dict[str, Any]:
    """One self-play run; its selfplay.json."""
    folder = out / f"selfplay-{len(list(out.iterdir()))}"
    done = perfopt(["selfplay", *GAMES, "--device", device, "--out", str(folder), *args])
    if done.returncode != 0:
        raise SystemExit(f"perfopt selfplay {' '.join(args)} failed: {done.stderr.strip()}")
    return json.loads((folder / "selfplay.json").read_text())


def main(device: str) -> None:
    """Print every figure with the runs that made it."""
    print(f"machine: {os.cpu_count()} logical cores; device {device}")
    with tempfile.TemporaryDirectory(prefix="perfopt-torch-figures-") as tmp:
        out = Path(tmp)
        data = out / "seq.h5"
        perfopt(["data", "sequences", *SEQUENCES, "--out", str(data)]).check_returncode()
        print(f"train, {' '.join(SEQUENCES)}, batch 128, epochs 2 and 3 of 3 (the first warms up):")
        for amp in (False, True):
            epochs: dict[str, list[float]] = {}
            for loader in ("per-sample", "chunk"):
                r = train(data, out, loader, amp, device)
                if isinstance(r, str):
                    print(f"  amp {amp!s:5} {loader:10}: not run: {r}")
                    continue
                last = r["epochs"][-1]
                epochs[loader] = [e["seconds"] for e in r["epochs"][1:]]
                print(
                    f"  amp {amp!s:5} {loader:10}: epoch {last['seconds']:.3f} s "
                    f"(data wait {last['data_wait_s']:.3f} s, compute {last['compute_s']:.3f} s), "
                    f"{last['samples'] / last['seconds']:.0f} samples/s ({r['amp_mode']}, "
                    f"{r['loader_info'].get('torch_threads', '?')} torch threads)"
                )
            if len(epochs) == 2:
                print(f"  amp {amp!s:5} {describe_cut(epochs['per-sample'], epochs['chunk'])}")
        print(f"self-play, {' '.join(GAMES)}:")
        serial = {}
        for batch in (1, 8, 32):
            r = selfplay(out, device, "--mcts-batch-size", str(batch))
            serial[batch] = r["metrics"]["games_per_s"]
            print(f"  serial batch {batch:2}: {serial[batch]:.2f} games/s")
        print(
            f"  batch 8 / 1: {serial[8] / serial[1]:.2f}x; batch 32 / 8: {serial[32] / serial[8]:.2f}x"
        )
        for mode, start in (
            ("thread", "fork"),
            ("process", "fork"),
            ("process", "spawn"),
            ("server", "fork"),
        ):
            r = selfplay(out, device, "--parallel", mode, "--workers", "2", "--start-method", start)
            rate = r["metrics"]["games_per_s"]
            startup = ", ".join(f"{s:.2f}" for s in r["startup_s"]) or "-"
            print(
                f"  {mode:7} x2 ({start:5}) batch 8: {rate:.2f} games/s = {rate / serial[8]:.2f}x "
                f"serial; start-up per worker {startup} s; {r['bytes_sent']:,} bytes between processes"
            )


if __name__ == "__main__":
    device = sys.argv[sys.argv.index("--device") + 1] if "--device" in sys.argv else "cpu"
    main(device)
