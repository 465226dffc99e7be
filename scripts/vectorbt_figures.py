"""The seed's backtest in vectorbt (from_signals + value) against perfopt's fused kernel.

Usage: python scripts/vectorbt_figures.py DATA_DIR [--rounds N]
(DATA_DIR from `perfopt data generate --days 756 --out DATA_DIR`: 500 x 756 bars).

vectorbt is not a perfopt dependency and this script installs nothing: without it, it
says so and exits 0. To take the figure, use a throwaway environment, e.g.
`python3.11 -m venv /tmp/vbt && /tmp/vbt/bin/pip install vectorbt -e .`.

Both sides get the same closes and the same sleeves: one column per ticker with its own
cash (capital / tickers), all-in entries when Wilder RSI(14) < 30, exits when > 70, a
0.1% fee on each side. The RSI comes from perfopt's rsi_kernel, outside vectorbt's
timing (so vectorbt is timed on from_signals + value only, warm); perfopt's figure is
its fused kernel, RSI included, both right after a vectorbt call (caches full of
vectorbt's data) and back to back. They run interleaved in this process; the script
first checks that the two equity curves agree.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time

import numpy as np


def main(data: str, rounds: int) -> int:
    """Print both medians and the ratio, or why vectorbt was skipped."""
    try:
        import vectorbt as vbt
    except ImportError:
        print("vectorbt is not installed here: skipped (it is not a perfopt dependency)")
        return 0
    import pandas as pd

    from perfopt.backtest.fused import backtest_kernel
    from perfopt.backtest.kernels import rsi_kernel
    from perfopt.data import open_store

    store = open_store(data, "hdf5")
    close = store.load("close")
    dates, tickers = store.dates(), store.tickers()
    cash = 1_000_000.0 / close.shape[1]
    rsi = rsi_kernel(close, 14)
    frame = pd.DataFrame(close, index=pd.DatetimeIndex(dates), columns=list(tickers))
    entries = pd.DataFrame(rsi < 30.0, index=frame.index, columns=frame.columns)
    exits = pd.DataFrame(rsi > 70.0, index=frame.index, columns=frame.columns)

    def with_vectorbt() -> np.ndarray:
        portfolio = vbt.Portfolio.from_signals(
            frame, entries, exits, init_cash=cash, fees=0.001, freq="1D"
        )
        return portfolio.value().to_numpy()

    def with_perfopt() -> np.ndarray:
        return backtest_kernel(close, 14, 30.0, 70.0, 0.001, cash)[0]

    ours = with_perfopt()
    theirs = with_vectorbt().sum(axis=1)
    gap = float(np.max(np.abs(theirs - ours) / ours))
    print(f"equity curves agree to {gap:.1e} relative (vectorbt {vbt.__version__})")
    # Each round: vectorbt once, then perfopt three times. The first perfopt call runs
    # in caches vectorbt just filled; the next two show the kernel back to back.
    times: dict[str, list[float]] = {"vectorbt": [], "perfopt-after": [], "perfopt-warm": []}
    for _ in range(rounds):
        start = time.perf_counter()
        with_vectorbt()
        times["vectorbt"].append(time.perf_counter() - start)
        calls = []
        for _ in range(3):
            start = time.perf_counter()
            with_perfopt()
            calls.append(time.perf_counter() - start)
        times["perfopt-after"].append(calls[0])
        times["perfopt-warm"].append(statistics.median(calls[1:]))
    print(f"{close.shape[1]} tickers x {close.shape[0]} dates, {rounds} interleaved rounds, warm:")
    labels = {
        "vectorbt": "vectorbt from_signals + value",
        "perfopt-after": "perfopt fused kernel, right after vectorbt",
        "perfopt-warm": "perfopt fused kernel, back to back",
    }
    for name, values in times.items():
        print(f"  {labels[name]:<43} median {1e3 * statistics.median(values):8.2f} ms")
    for name in ("perfopt-after", "perfopt-warm"):
        paired = np.array(times["vectorbt"]) / np.array(times[name])
        q1, med, q3 = np.percentile(paired, [25, 50, 75])
        print(f"  vectorbt / {labels[name]}: {med:.0f}x (quartiles {q1:.0f}-{q3:.0f})")
    return 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data", help="data folder (perfopt data generate --days 756)")
    parser.add_argument("--rounds", type=int, default=20, help="interleaved rounds")
    args = parser.parse_args()
    sys.exit(main(args.data, args.rounds))
