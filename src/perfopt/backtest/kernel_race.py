"""Time the kernel paths against each other, interleaved in one process.

Each round runs every path once, in the same order, on the same close array, so a busy
neighbour slows all of them alike; a path's figure is its median over the rounds, and a
ratio is the median of the per-round ratios (paired), with its quartiles as the spread.
Every path is checked against the fused kernel bit for bit before it is timed.

Paths: the fused numba kernel, the two-kernel numba path (`rsi_kernel` +
`simulate_kernel`), and the C loops of `c_loop.c` (plain and fused) when a compiler is
found (otherwise `c_skipped` says why).
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from perfopt.backtest.c_loop import CLoopUnavailable, build_c_loop, check_same

STRATEGY = (14, 30.0, 70.0, 0.001)  # period, oversold, overbought, fee


@dataclass
class Race:
    """Seconds per round for each path, and where the C loop came from (or why not)."""

    rounds: dict[str, list[float]]
    shape: tuple[int, int]
    c_compiler: str | None = None
    c_flags: tuple[str, ...] = ()
    c_skipped: str | None = None
    notes: list[str] = field(default_factory=list)

    def median_ms(self, path: str) -> float:
        """The path's median round, in milliseconds."""
        return 1e3 * statistics.median(self.rounds[path])

    def quartiles_ms(self, path: str) -> tuple[float, float]:
        """The path's first and third quartile, in milliseconds."""
        q1, q3 = np.percentile(self.rounds[path], [25, 75])
        return 1e3 * float(q1), 1e3 * float(q3)

    def ratio(self, path: str, against: str) -> tuple[float, float, float]:
        """Median, first and third quartile of path / against, round by round."""
        paired = np.array(self.rounds[path]) / np.array(self.rounds[against])
        q1, median, q3 = np.percentile(paired, [25, 50, 75])
        return float(median), float(q1), float(q3)

    def c_best(self) -> str | None:
        """The C path with the lower median ("the C loop" of the ratios), if C ran."""
        paths = [p for p in ("c-plain", "c-fused") if p in self.rounds]
        return min(paths, key=self.median_ms) if paths else None

    def table(self) -> str:
        """The figures as aligned text: medians, quartiles and the ratios that matter."""
        rows, cols = self.shape
        lines = [
            f"kernel paths on {cols} tickers x {rows} dates, {self.n_rounds} interleaved rounds"
        ]
        for path in self.rounds:
            q1, q3 = self.quartiles_ms(path)
            lines.append(
                f"  {path:<12} median {self.median_ms(path):8.3f} ms  (quartiles {q1:.3f}-{q3:.3f})"
            )
        best = self.c_best()
        if best is not None:
            m, q1, q3 = self.ratio("fused", best)
            lines.append(f"  fused / C loop ({best}): {m:.2f}x (quartiles {q1:.2f}-{q3:.2f})")
            if self.c_compiler:
                lines.append(f"  C built by {self.c_compiler} {' '.join(self.c_flags)}")
        else:
            lines.append(f"  C loop skipped: {self.c_skipped}")
        if "two-kernel" in self.rounds:
            m, q1, q3 = self.ratio("two-kernel", "fused")
            lines.append(f"  two-kernel / fused: {m:.2f}x (quartiles {q1:.2f}-{q3:.2f})")
        lines.extend(f"  note: {n}" for n in self.notes)
        return "\n".join(lines)

    @property
    def n_rounds(self) -> int:
        """How many rounds each path ran."""
        return len(next(iter(self.rounds.values())))


def paths(close: np.ndarray, with_c: bool = True) -> tuple[dict[str, Callable[[], tuple]], Race]:
    """The callables to race on `close` (each checked against the fused kernel) and an
    empty Race that records where the C loop came from."""
    from perfopt.backtest.fused import backtest_kernel
    from perfopt.backtest.kernels import rsi_kernel, simulate_kernel

    period, oversold, overbought, fee = STRATEGY
    cash = 1_000_000.0 / close.shape[1]
    close = np.ascontiguousarray(close, dtype=np.float64)
    runs: dict[str, Callable[[], tuple]] = {
        "fused": lambda: backtest_kernel(close, period, oversold, overbought, fee, cash),
        "two-kernel": lambda: simulate_kernel(
            close, rsi_kernel(close, period), oversold, overbought, fee, cash
        ),
    }
    race = Race({}, close.shape)
    if with_c:
        try:
            c = build_c_loop()
        except CLoopUnavailable as exc:
            race.c_skipped = str(exc)
        else:
            race.c_compiler, race.c_flags = c.version, c.flags
            for kind in ("plain", "fused"):
                runs[f"c-{kind}"] = lambda kind=kind: c.run(
                    kind, close, period, oversold, overbought, fee, cash
                )
    else:
        race.c_skipped = "not asked for"
    want = runs["fused"]()
    for name, run in runs.items():
        check_same(run(), want, name)
    return runs, race


def race(close: np.ndarray, rounds: int = 30, warmup: int = 3, with_c: bool = True) -> Race:
    """Warm every path up, then time `rounds` interleaved rounds; return the Race."""
    runs, result = paths(close, with_c)
    for _ in range(warmup):
        for run in runs.values():
            run()
    result.rounds = {name: [] for name in runs}
    for _ in range(rounds):
        for name, run in runs.items():
            start = time.perf_counter()
            run()
            result.rounds[name].append(time.perf_counter() - start)
    return result
