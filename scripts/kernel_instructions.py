"""Instruction counts of the numba kernels under callgrind: print, check or record them.

Usage:
  python scripts/kernel_instructions.py                        # print the counts
  python scripts/kernel_instructions.py --check BASELINE.json  # exit 1 on a regression
  python scripts/kernel_instructions.py --write BASELINE.json  # record a new baseline

The fused kernel fails the check when it executes more than 1.05x the baseline's
instructions at the seed's size (500 x 756) with the baseline's numba and llvmlite
(counts repeat to a few dozen instructions), or 1.25x after an upgrade of either;
--fail-above overrides both. Without valgrind, a C compiler or valgrind's header, or
with a baseline taken for another CPU target, it prints why and exits 0 (skipped).
See docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from perfopt.backtest.instructions import CountUnavailable, compare, count_kernels, margin


def main(argv: list[str]) -> int:
    """Count, then check or write; return the exit status."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--check", type=Path, help="baseline JSON to compare against")
    group.add_argument("--write", type=Path, help="write the counts as the new baseline")
    parser.add_argument("--fail-above", type=float, help="override the margin (a ratio)")
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
        fail_above, why = margin(current, baseline)
        if args.fail_above is not None:
            fail_above, why = args.fail_above, f"fails above {args.fail_above}x (--fail-above)"
        try:
            failures = compare(current, baseline, fail_above)
        except CountUnavailable as exc:
            print(f"instruction check skipped: {exc}")
            return 0
        for label, count in current["counts"].items():
            if label in baseline["counts"]:
                print(f"  {label:<22} {count / baseline['counts'][label]:.3f}x the baseline")
        if failures:
            print(f"REGRESSION ({why}): " + "; ".join(failures))
            return 1
        print(f"instruction check passed ({why})")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
