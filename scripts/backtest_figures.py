"""The backtest figures of issue 2: compile, steady-state kernels, end-to-end per store.

Usage: python scripts/backtest_figures.py DATA_DIR [--naive]
(DATA_DIR from `perfopt data generate --days 756 --out DATA_DIR`: 500 x 756 bars).
"""

from __future__ import annotations

import statistics
import sys
import time

from perfopt.backtest import BacktestConfig, run_backtest
from perfopt.backtest.engine import load_kernels
from perfopt.data import open_store


def main(data: str, naive: bool) -> None:
    """Print the figures, each with the way it was taken."""
    kernels, compile_s = load_kernels("numba")
    print(f"numba compile/cache-load in a fresh process: {compile_s:.3f} s")
    close = open_store(data, "hdf5").load("close")
    runs = []
    for _ in range(20):
        start = time.perf_counter()
        rsi = kernels.rsi(close, 14)
        kernels.simulate(close, rsi, 30.0, 70.0, 0.001, 2000.0)
        runs.append(time.perf_counter() - start)
    shape = f"{close.shape[1]}x{close.shape[0]}"
    print(f"steady signals+simulate numba {shape}: median {statistics.median(runs) * 1e3:.2f} ms")
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
    if len(sys.argv) < 2:
        raise SystemExit(__doc__)
    main(sys.argv[1], "--naive" in sys.argv[2:])
