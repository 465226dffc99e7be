"""Child of `instructions.count_kernels`: run each kernel once inside a callgrind window.

Usage: python -m perfopt.backtest._callgrind_child SHIM.so SIZES_JSON [--warm]
With --warm it only compiles the kernels (into NUMBA_CACHE_DIR) and exits.
"""

from __future__ import annotations

import ctypes
import json
import sys


def main(argv: list[str]) -> int:
    """Count every kernel at every size; each count is one callgrind dump."""
    from perfopt.backtest.fused import backtest_kernel
    from perfopt.backtest.kernels import rsi_kernel, simulate_kernel
    from perfopt.data import generate_panel

    shim_path, sizes = argv[0], json.loads(argv[1])
    warm_only = "--warm" in argv[2:]
    kernels = {
        "fused": lambda c: backtest_kernel(c, 14, 30.0, 70.0, 0.001, 2000.0),
        "two-kernel": lambda c: simulate_kernel(c, rsi_kernel(c, 14), 30.0, 70.0, 0.001, 2000.0),
    }
    shim = None if warm_only else ctypes.CDLL(shim_path)
    for tickers, dates in sizes:
        close = generate_panel(int(tickers), n_days=int(dates), seed=7).close
        for name, run in kernels.items():
            run(close)  # compile or load the cache; first-call costs stay outside the count
            if shim is None:
                continue
            shim.perfopt_cg_start()
            run(close)
            shim.perfopt_cg_stop(f"{name} {tickers}x{dates}".encode())
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
