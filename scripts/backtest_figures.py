"""The backtest figures: compile, the kernel paths against the C loop, end-to-end per store.

Usage: python scripts/backtest_figures.py DATA_DIR [--naive] [--rounds N]
(DATA_DIR from `perfopt data generate --days 756 --out DATA_DIR`: 500 x 756 bars).

The kernel paths (fused numba kernel, the two-kernel numba path, the plain and fused C
loops built with this machine's C compiler) run interleaved in this one process, N
rounds (default 40) after a warm-up; each is checked bit for bit against the fused
kernel first. Without a C compiler the C rows are skipped with the reason.
"""

from __future__ import annotations

import argparse
import platform
import statistics

from perfopt.backtest import BacktestConfig, run_backtest
from perfopt.backtest.kernel_race import race
from perfopt.backtest.steps import load_kernels
from perfopt.data import open_store


def cpu_model() -> str:
    """The CPU's model name (Linux /proc/cpuinfo), else what platform knows."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def main(data: str, naive: bool, rounds: int) -> None:
    """Print the figures, each with the way it was taken."""
    import os

    print(
        f"machine: {cpu_model()}, {os.cpu_count()} logical CPUs, Python {platform.python_version()}"
    )
    _, compile_s = load_kernels("numba")
    print(f"numba compile/cache-load in a fresh process: {compile_s:.3f} s")
    close = open_store(data, "hdf5").load("close")
    print(race(close, rounds=rounds).table())
    for source in ("hdf5", "parquet", "sqlite"):
        totals = [
            run_backtest(BacktestConfig(data, source=source)).stages["total"] for _ in range(5)
        ]
        print(
            f"end-to-end numba bulk {source}: first {totals[0] * 1e3:.1f} ms, "
            f"median of the other 4 {statistics.median(totals[1:]) * 1e3:.1f} ms"
        )
    if naive:
        result = run_backtest(
            BacktestConfig(data, source="sqlite", access="naive", engine="reference")
        )
        print(
            "reference naive sqlite stages (s):", {k: round(v, 3) for k, v in result.stages.items()}
        )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data", help="data folder (perfopt data generate --days 756)")
    parser.add_argument("--naive", action="store_true", help="also time the legacy naive loop")
    parser.add_argument("--rounds", type=int, default=40, help="interleaved kernel rounds")
    args = parser.parse_args()
    main(args.data, args.naive, args.rounds)
