"""Start N `perfopt optimize` runs at the same moment on one storage; report what happened.

    python scripts/many_runs_drill.py DATA STORAGE_URL [--runs 4] [--n-trials 120]
        [--n-jobs 1] [--study NAME] [-- EXTRA OPTIMIZE FLAGS]

Prints, per run, its exit status, the trials it ran (its own run id) and the study's
total as its summary saw it, then the study's counted trials and how many counted
trials repeated an earlier parameter set. Exit status 0 when every run exited 0, the
study holds exactly --n-trials and no parameter set was evaluated twice.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path


def main() -> int:
    """Run the drill and print its results."""
    p = argparse.ArgumentParser(description=__doc__, allow_abbrev=False)
    p.add_argument("data")
    p.add_argument("storage")
    p.add_argument("--runs", type=int, default=4)
    p.add_argument("--n-trials", type=int, default=120)
    p.add_argument("--n-jobs", type=int, default=1)
    p.add_argument("--study", default=None)
    argv = sys.argv[1:]
    cut = argv.index("--") if "--" in argv else len(argv)
    args, extra = p.parse_args(argv[:cut]), argv[cut + 1 :]
    study = args.study or f"drill-{uuid.uuid4().hex[:8]}"
    out = Path(tempfile.mkdtemp(prefix="perfopt-drill-"))
    procs = []
    start = time.perf_counter()
    for i in range(args.runs):
        cmd = [sys.executable, "-m", "perfopt", "optimize", "--data", args.data,
               "--n-trials", str(args.n_trials), "--n-jobs", str(args.n_jobs),
               "--study-name", study, "--storage", args.storage, "--no-progress",
               "--summary-json", str(out / f"run{i}.json"), *extra]  # fmt: skip
        procs.append(subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE))
    codes = []
    for i, proc in enumerate(procs):
        _, err = proc.communicate()
        codes.append(proc.returncode)
        summary_path = out / f"run{i}.json"
        if proc.returncode == 0 and summary_path.exists():
            s = json.loads(summary_path.read_text())
            c = s["trials"]
            print(
                f"run {i}: exit 0, {c['complete'] + c['pruned'] + c['failed']} trials of its own "
                f"({c['surplus']} surplus), study total {s['study_counted_trials']}, "
                f"seed {s['plan']['seed']}"
            )
        else:
            last = err.decode(errors="replace").strip().splitlines()[-1:] or ["?"]
            print(f"run {i}: exit {proc.returncode}: {last[0]}")
    wall = time.perf_counter() - start
    counted, dupes = _study_figures(args.storage, study)
    print(
        f"study {study}: {counted} counted trials of {args.n_trials}, {dupes} duplicated "
        f"parameter set(s); {args.runs} runs in {wall:.1f} s"
    )
    ok = all(c == 0 for c in codes) and counted == args.n_trials and dupes == 0
    return 0 if ok else 1


def _study_figures(url: str, name: str) -> tuple[int, int]:
    import optuna

    from perfopt.optimize.storages import open_storage, resolve_storage
    from perfopt.optimize.studies import counted_trials, duplicate_params

    optuna.logging.set_verbosity(optuna.logging.ERROR)
    storage = open_storage(resolve_storage(url, "X", name))
    try:
        study = optuna.load_study(study_name=name, storage=storage)
    except KeyError:
        return 0, 0  # no run created the study
    return counted_trials(study), len(duplicate_params(study.get_trials()))


if __name__ == "__main__":
    sys.exit(main())
