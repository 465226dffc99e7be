"""Instruction counts of the numba kernels under callgrind: print, check or record them.

Usage:
  python scripts/kernel_instructions.py                        # print the counts
  python scripts/kernel_instructions.py --check BASELINE.json  # exit 1 on a regression
  python scripts/kernel_instructions.py --write BASELINE.json  # record a new baseline

The fused kernel fails the check when it executes more than --fail-above (default 1.25)
times the baseline's instructions at the seed's size (500 x 756). Counts are exact
(a few dozen instructions apart between runs), so the margin is for numba/LLVM upgrades,
not noise. Without valgrind, a C compiler or valgrind's header, or with a baseline taken
for another CPU target, it prints why and exits 0 (skipped). See docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from perfopt.backtest.instructions import CountUnavailable, compare, count_kernels

FAIL_ABOVE = 1.25


def main(argv: list[str]) -> int:
    """Count, then check or write; return the exit status."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--check", type=Path, help="baseline JSON to compare against")
    group.add_argument("--write", type=Path, help="write the counts as the new baseline")
    parser.add_argument("--fail-above", type=float, default=FAIL_ABOVE)
    args = parser.parse_args(argv)
    if args.check and not args.check.is_file():
        print(f"no baseline at {args.check}: record one with --write {args.check}")
        return 2
    start = time.perf_counter()
    try:
        current = count_kernels()
    except CountUnavailable as exc:
        print(f"instruction count skipped: {exc}")
        return 0
    print(
        f"instruction counts (callgrind, target {current['target']}, numba {current['numba']}, "
        f"{current['valgrind']}; {time.perf_counter() - start:.0f} s):"
    )
    for label, count in current["counts"].items():
        print(f"  {label:<22} {count:>14,}")
    if args.write:
        args.write.parent.mkdir(parents=True, exist_ok=True)
        args.write.write_text(json.dumps(current, indent=1) + "\n")
        print(f"wrote {args.write}")
        return 0
    if args.check:
        baseline = json.loads(args.check.read_text())
        try:
            failures = compare(current, baseline, args.fail_above)
        except CountUnavailable as exc:
            print(f"instruction check skipped: {exc}")
            return 0
        for label, count in current["counts"].items():
            if label in baseline["counts"]:
                print(f"  {label:<22} {count / baseline['counts'][label]:.3f}x the baseline")
        if failures:
            print("REGRESSION: " + "; ".join(failures))
            return 1
        print(f"instruction check passed (fails above {args.fail_above}x the baseline)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
