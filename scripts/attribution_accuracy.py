"""How often `perfopt profile` gets the kind of each ground-truth program right.

Runs every program of `tests/profiling/ground_truth/cases.py` RUNS times, interleaved
(round 1 of every program, then round 2, ...), each in a fresh process under
`profile_command` with all views on, and prints a table: program, truth, the kind of each
run, the shares of the last run, and the accuracy. Prints the machine (CPU model, cores,
load average before and after) beside it: the figures belong to that machine.

    python scripts/attribution_accuracy.py --runs 3
    python scripts/attribution_accuracy.py --runs 5 --only pool-4,cpu-then-sleep --json out.json
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import platform
import shutil
import sys
import tempfile
from pathlib import Path

from perfopt.errors import UserError
from perfopt.harness.markdown import table
from perfopt.profiling import profile_command

ROOT = Path(__file__).resolve().parents[1]
CASES_FILE = ROOT / "tests" / "profiling" / "ground_truth" / "cases.py"


def _load_cases():
    spec = importlib.util.spec_from_file_location("perfopt_ground_truth_cases", CASES_FILE)
    if spec is None or spec.loader is None:
        raise UserError(f"cannot load {CASES_FILE}: run this script from a perfopt checkout")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _load() -> str:
    try:
        return " ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        return "?"


def _shares(shares: dict[str, float]) -> str:
    return ", ".join(f"{k} {100 * v:.0f}%" for k, v in shares.items() if v >= 0.05) or "-"


def main(argv: list[str] | None = None) -> int:
    """Run the ground-truth programs RUNS times and print the accuracy table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3, help="runs per program (default 3)")
    parser.add_argument("--only", default="", help="comma-separated program names")
    parser.add_argument("--json", type=Path, default=None, help="also write the runs here")
    args = parser.parse_args(argv)
    cases = _load_cases()
    chosen = [c for c in cases.CASES if not args.only or c.name in args.only.split(",")]
    if args.runs < 1 or not chosen:
        print(f"nothing to run: --runs {args.runs}, --only {args.only!r}", file=sys.stderr)
        return 2
    print(f"machine: {_cpu_model()}, {os.cpu_count()} cores; load average before: {_load()}")
    runs: dict[str, list[dict]] = {c.name: [] for c in chosen}
    with tempfile.TemporaryDirectory(prefix="perfopt-accuracy-") as tmp:
        root = Path(tmp)
        disk = cases.disk_folder(root, Path.home() / ".cache" / "perfopt-ground-truth")
        big = (disk or root) / f"accuracy-{os.getpid()}"
        try:
            files = cases.prepare(root, big)
            for r in range(args.runs):
                for case in chosen:
                    out = root / "profiles" / f"{case.name}-{r}"
                    result = profile_command(case.argv(files), out, env=dict(case.env))
                    v = result["verdict"]
                    runs[case.name].append(
                        {
                            "kind": v["kind"],
                            "shares": v.get("shares", {}),
                            "runnable_mean": v.get("runnable_mean"),
                            "overhead": result["overhead"],
                        }
                    )
                    print(f"  run {r + 1} {case.name}: {v['kind']}", file=sys.stderr)
        finally:
            shutil.rmtree(big, ignore_errors=True)
    print(f"load average after: {_load()}\n")
    right = total = 0
    rows = []
    for case in chosen:
        got = runs[case.name]
        ok = sum(g["kind"] == case.truth for g in got)
        right, total = right + ok, total + len(got)
        kinds = ", ".join(g["kind"] for g in got)
        rows.append(
            [
                f"{case.name}: {case.describe}",
                case.truth,
                kinds,
                _shares(got[-1]["shares"]),
                f"{ok}/{len(got)}",
            ]
        )
    header = ["program", "truth", "kinds (each run)", "shares (last run)", "right"]
    print("\n".join(table(header, rows)))
    print(f"\naccuracy: {right}/{total} runs ({100 * right / total:.0f}%)")
    if args.json:
        args.json.write_text(json.dumps(runs, indent=2) + "\n")
    return 0 if right == total else 1


if __name__ == "__main__":
    sys.exit(main())
