"""Trials/s of a user objective: Optuna's n_jobs threads against `perfopt optimize` processes.

    python scripts/objective_threads_vs_processes.py [--spec examples/sklearn_objective.py:objective]
        [--n-trials 120] [--n-jobs 2] [--repeats 3] [--storage journal|sqlite]
        [--direction maximize]

Each repeat runs, in this order, then the other order in the next repeat (ABBA):
A: `study.optimize(objective, n_trials=N, n_jobs=J)` in a fresh Python process (Optuna's
threads); B: `perfopt optimize --objective SPEC --n-jobs J` (worker processes, fork).
Both on a fresh study on the same kind of storage (a new file per run), TPE sampler.
Trials/s is N over the optimize call's wall time (A: around study.optimize; B: the
summary's wall, which includes starting the workers), and over the whole command
(imports included). Prints each run, then processes/threads as a ratio with its 95%
interval (perfopt.harness.stats.ratio, unpaired), the same paired by repeat (the
geometric mean of each repeat's ratio with its t-interval: load that drifts between
repeats cancels), and the load average before and after.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

OPTUNA_THREADS = """
import json, sys, time, optuna
from perfopt.optimize.storages import open_storage, resolve_storage
from perfopt.optimize.user_objective import load_callable
fn = load_callable({spec!r})
optuna.logging.set_verbosity(optuna.logging.ERROR)
# The storage object perfopt itself opens for this URL: the same storage on both sides.
storage = open_storage(resolve_storage({url!r}, "", "threads"))
study = optuna.create_study(study_name="threads", storage=storage, direction={direction!r})
start = time.perf_counter()
study.optimize(fn, n_trials={n}, n_jobs={jobs})
wall = time.perf_counter() - start
done = sum(t.state.is_finished() for t in study.trials)
print(json.dumps({{"wall_s": wall, "trials": done}}))
"""


def url_for(kind: str, folder: Path, tag: str) -> str:
    """A fresh storage file of the given kind."""
    if kind == "sqlite":
        return f"sqlite:///{folder / (tag + '.db')}"
    if kind == "journal":
        return f"journal://{folder / (tag + '.log')}"
    raise SystemExit(f"--storage {kind}: journal or sqlite")


def run_threads(spec: str, url: str, n: int, jobs: int, direction: str) -> dict[str, float]:
    """Plain Optuna, n_jobs threads, in a fresh process."""
    code = OPTUNA_THREADS.format(spec=spec, url=url, n=n, jobs=jobs, direction=direction)
    start = time.perf_counter()
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    whole = time.perf_counter() - start
    data = json.loads(out.stdout.strip().splitlines()[-1])
    return {"rate": data["trials"] / data["wall_s"], "whole_rate": data["trials"] / whole,
            "trials": data["trials"]}  # fmt: skip


def run_processes(
    spec: str, url: str, n: int, jobs: int, direction: str, folder: Path, tag: str
) -> dict[str, float]:
    """`perfopt optimize --objective SPEC --n-jobs J` (fork)."""
    summary = folder / f"{tag}.json"
    cmd = [sys.executable, "-m", "perfopt", "optimize", "--objective", spec, "--n-trials", str(n),
           "--n-jobs", str(jobs), "--storage", url, "--study-name", "processes",
           "--direction", direction, "--no-progress", "--summary-json", str(summary)]  # fmt: skip
    start = time.perf_counter()
    subprocess.run(cmd, capture_output=True, text=True, check=True)
    whole = time.perf_counter() - start
    s = json.loads(summary.read_text())
    counted = s["study_counted_trials"]
    return {"rate": s["trials_per_s"], "whole_rate": counted / whole, "trials": counted}


def main() -> int:
    """Run the interleaved comparison and print the ratio."""
    p = argparse.ArgumentParser(description=__doc__, allow_abbrev=False,
                                formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    p.add_argument("--spec", default="examples/sklearn_objective.py:objective")
    p.add_argument("--n-trials", type=int, default=120)
    p.add_argument("--n-jobs", type=int, default=2)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--storage", default="journal")
    p.add_argument("--direction", default="maximize")
    args = p.parse_args()
    from perfopt.harness import stats

    load_before = os.getloadavg()
    folder = Path(tempfile.mkdtemp(prefix="threads-vs-processes-"))
    runs: dict[str, list[dict[str, float]]] = {"threads": [], "processes": []}
    for r in range(args.repeats):
        order = ("threads", "processes") if r % 2 == 0 else ("processes", "threads")
        for which in order:
            tag = f"{which}-{r}"
            url = url_for(args.storage, folder, tag)
            if which == "threads":
                res = run_threads(args.spec, url, args.n_trials, args.n_jobs, args.direction)
            else:
                res = run_processes(args.spec, url, args.n_trials, args.n_jobs, args.direction,
                                    folder, tag)  # fmt: skip
            runs[which].append(res)
            print(f"repeat {r} {which:9s}: {res['trials']} trials, {res['rate']:.2f} trials/s "
                  f"in the optimize call, {res['whole_rate']:.2f} over the whole command",
                  flush=True)  # fmt: skip
    load_after = os.getloadavg()
    for key, label in (("rate", "optimize call"), ("whole_rate", "whole command")):
        threads = [x[key] for x in runs["threads"]]
        procs = [x[key] for x in runs["processes"]]
        ratio = stats.ratio(threads, procs)
        print(f"processes / threads, trials/s ({label}): {ratio.text()} (unpaired)")
        # Each repeat's two runs ran back to back: their ratio cancels load that drifts
        # between repeats (other processes on a shared machine).
        paired = stats.level([p / t for p, t in zip(procs, threads, strict=True)])
        print(f"  paired by repeat: {paired.value:.2f}x {paired.interval_text('{:.2f}')}, "
              f"n={paired.n} (geometric mean of each repeat's ratio, 95% t-interval)")
    print(f"load average before {load_before[0]:.2f} {load_before[1]:.2f}, "
          f"after {load_after[0]:.2f} {load_after[1]:.2f} (1 and 5 min); {os.cpu_count()} CPUs")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
