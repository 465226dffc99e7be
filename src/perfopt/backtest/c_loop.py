"""The C yardstick: `c_loop.c` built with this machine's C compiler, called through ctypes.

`build_c_loop()` compiles the file into a temporary folder (removed at once: the loaded
library stays mapped), with `-O3 -march=native` so the compiler uses what this CPU has,
and `-ffp-contract=off` so it keeps the reference arithmetic. `-fno-trapping-math` only
lets the compiler evaluate both sides of a select, as LLVM (numba) does by default; no
result changes, and `CLoop` refuses to time an output that differs from the reference by
one bit (`check_same`). Without a compiler, `CLoopUnavailable` says which names were
looked for, and benchmarks skip with that reason.
"""

from __future__ import annotations

import ctypes
import os
import shutil
import subprocess
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

SOURCE = Path(__file__).with_name("c_loop.c")
FLAGS = ("-O3", "-ffp-contract=off", "-fno-trapping-math", "-fPIC", "-shared")
NATIVE = "-march=native"
FUNCTIONS = ("plain", "fused")


class CLoopUnavailable(RuntimeError):
    """No C compiler, or it could not build c_loop.c; the message says which and why."""


class _Trades(ctypes.Structure):
    _fields_ = [
        ("col", ctypes.c_void_p),
        ("entry", ctypes.c_void_p),
        ("exit_row", ctypes.c_void_p),
        ("entry_px", ctypes.c_void_p),
        ("exit_px", ctypes.c_void_p),
        ("shares", ctypes.c_void_p),
        ("cost", ctypes.c_void_p),
        ("capacity", ctypes.c_int64),
    ]


def find_compiler() -> str | None:
    """Return the path of $CC, cc, gcc or clang (the first found), or None."""
    for name in (os.environ.get("CC"), "cc", "gcc", "clang"):
        if name:
            path = shutil.which(name)
            if path:
                return path
    return None


def _version(compiler: str) -> str:
    out = subprocess.run([compiler, "--version"], capture_output=True, text=True, timeout=30)
    return (out.stdout or out.stderr).splitlines()[0].strip() if (out.stdout or out.stderr) else "?"


@dataclass(frozen=True)
class CLoop:
    """The built library: `run(kind, close, ...)` gives the kernels' 9 outputs."""

    library: ctypes.CDLL
    compiler: str
    version: str
    flags: tuple[str, ...]

    def run(
        self,
        kind: str,
        close: np.ndarray,
        period: int,
        oversold: float,
        overbought: float,
        fee: float,
        sleeve_cash: float,
    ) -> tuple[np.ndarray, ...]:
        """Run perfopt_backtest_<kind> (plain or fused) on a C-ordered float64 close array."""
        if kind not in FUNCTIONS:
            raise ValueError(f"unknown C loop {kind!r}; choose one of {', '.join(FUNCTIONS)}")
        close = np.ascontiguousarray(close, dtype=np.float64)
        n_dates, n_tickers = close.shape
        capacity = n_tickers * (n_dates // 2 + 1)  # each round trip takes two dates
        equity = np.empty(n_dates)
        final = np.empty(n_tickers)
        ints = [np.empty(capacity, dtype=np.int64) for _ in range(3)]
        floats = [np.empty(capacity) for _ in range(4)]
        trades = _Trades(*(a.ctypes.data for a in ints + floats), capacity)
        fn = getattr(self.library, f"perfopt_backtest_{kind}")
        n = fn(
            close.ctypes.data, n_dates, n_tickers, period, oversold, overbought, fee,
            sleeve_cash, equity.ctypes.data, final.ctypes.data, ctypes.byref(trades),
        )  # fmt: skip
        if n < 0:
            raise MemoryError("the C loop could not allocate its state")
        col, entry, exit_row = (a[:n] for a in ints)
        entry_px, exit_px, shares, cost = (a[:n] for a in floats)
        return equity, final, col, entry, entry_px, exit_row, exit_px, shares, cost


def _compile(compiler: str, flags: Sequence[str], out: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [compiler, *flags, str(SOURCE), "-o", str(out), "-lm"],
        capture_output=True,
        text=True,
        timeout=120,
    )


def build_c_loop() -> CLoop:
    """Compile c_loop.c with the system compiler and load it, or raise CLoopUnavailable."""
    compiler = find_compiler()
    if compiler is None:
        raise CLoopUnavailable(
            "no C compiler found ($CC, cc, gcc, clang): the C reference loop is skipped"
        )
    with tempfile.TemporaryDirectory(prefix="perfopt-c-loop-") as tmp:
        out = Path(tmp) / "c_loop.so"
        flags = (*FLAGS, NATIVE)
        done = _compile(compiler, flags, out)
        if done.returncode != 0:  # a compiler without -march=native: build for the baseline
            flags = FLAGS
            done = _compile(compiler, flags, out)
        if done.returncode != 0:
            first = (done.stderr.strip().splitlines() or ["no message"])[0]
            raise CLoopUnavailable(f"{compiler} could not build {SOURCE.name}: {first}")
        library = ctypes.CDLL(str(out))
    for kind in FUNCTIONS:
        fn = getattr(library, f"perfopt_backtest_{kind}")
        fn.restype = ctypes.c_int64
        fn.argtypes = [
            ctypes.c_void_p, ctypes.c_int64, ctypes.c_int64, ctypes.c_int64,
            ctypes.c_double, ctypes.c_double, ctypes.c_double, ctypes.c_double,
            ctypes.c_void_p, ctypes.c_void_p, ctypes.POINTER(_Trades),
        ]  # fmt: skip
    return CLoop(library, compiler, _version(compiler), flags)


OUTPUTS = ("equity", "final", "col", "entry", "entry_px", "exit", "exit_px", "shares", "cost")


def same_bits(a: np.ndarray, b: np.ndarray) -> bool:
    """Whether two arrays hold the same values bit for bit (-0.0 != 0.0; any NaN == NaN)."""
    if a.shape != b.shape or a.dtype != b.dtype:
        return False
    if a.dtype.kind != "f":
        return bool(np.array_equal(a, b))
    bits_a, bits_b = a.view(np.uint64), b.view(np.uint64)
    return bool(np.all((bits_a == bits_b) | (np.isnan(a) & np.isnan(b))))


def check_same(got: Sequence[np.ndarray], want: Sequence[np.ndarray], what: str) -> None:
    """Raise AssertionError naming the first output that differs from want by one bit."""
    for name, a, b in zip(OUTPUTS, got, want, strict=True):
        if not same_bits(np.asarray(a), np.asarray(b)):
            raise AssertionError(f"{what}: {name} differs from the reference")
