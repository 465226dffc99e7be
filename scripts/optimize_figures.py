"""The optimizer figures of issues 3 and 6, each from real `perfopt optimize` runs.

Usage: python scripts/optimize_figures.py DAILY_DIR INTRADAY_DIR
  DAILY_DIR    from `perfopt data generate --out DAILY_DIR` (500 tickers: CPU-bound trials
               of about 50 ms each, bulk access)
  INTRADAY_DIR from `perfopt data generate --freq 1min --symbols BTCUSDT --days 60 --out DIR`

Prints, for this machine: per-trial time with naive vs bulk access; trials/s in trial
mode with 1 vs 2 processes on SQLite, journal and PostgreSQL, and each storage's cost
per trial; and on one intraday pair, trials/s for 1 process, 2 processes, two separate
runs sharing the study, and Dask local:1 / local:2, with Dask's gap between tasks.
PostgreSQL: $PERFOPT_POSTGRES_URL, else postgresql+psycopg://postgres@127.0.0.1:5432/test.
Every study is new (named by the run's timestamp); PostgreSQL studies are deleted after.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from perfopt.run_folders import run_stamp

PERFOPT = [sys.executable, "-m", "perfopt"]
POSTGRES = (
    os.environ.get("PERFOPT_POSTGRES_URL") or "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
DAILY = ["--start", "2024-01-01", "--end", "2025-12-31", "--seed", "0"]
PAIR = ["--symbol", "BTCUSDT", "--timeframe-grid", "1m@15m"]


def optimize(args: list[str], out: Path) -> dict[str, Any]:
    """Run one `perfopt optimize` and return its summary (the pair's, for a grid run)."""
    run = out / f"run-{time.monotonic_ns()}"
    run.mkdir()
    cmd = [*PERFOPT, "optimize", *args, "--no-progress"]
    if "--timeframe-grid" in args:
        cmd += ["--reports-dir", str(run), "--studies-dir", str(out / "studies")]
    else:
        cmd += ["--summary-json", str(run / "summary.json")]
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    (summary,) = (
        run.glob("*/summary.json") if "--timeframe-grid" in args else [run / "summary.json"]
    )
    return json.loads(summary.read_text())


def storage_url(kind: str, out: Path, name: str) -> str:
    """A fresh storage of each kind (the file ones under `out`)."""
    return {
        "memory": "memory",
        "sqlite": f"sqlite:///{out / (name + '.db')}",
        "journal": f"journal:///{out / (name + '.log')}",
        "postgresql": POSTGRES,
    }[kind]


def ms(x: float | None) -> str:
    return "-" if x is None else f"{x * 1e3:.1f} ms"


def access_figures(daily: str, out: Path, tag: str) -> None:
    """Naive per-ticker-per-date queries vs one bulk load per worker."""
    times = {}
    for access, trials in (("naive", 3), ("bulk", 10)):
        args = ["--data", daily, *DAILY, "--n-trials", str(trials), "--n-jobs", "1"]
        args += ["--access", access, "--study-name", f"acc-{access}-{tag}"]
        args += ["--storage", storage_url("journal", out, f"acc-{access}")]
        s = optimize(args, out)
        times[access] = s["trial_s"]["mean"]
        print(f"  {access:5}: mean trial {ms(times[access])}, IO ratio {s['io_ratio']:.3f}")
    print(f"  naive / bulk per-trial time: {times['naive'] / times['bulk']:.0f}x")


def scaling_figures(daily: str, out: Path, tag: str) -> list[str]:
    """Trial mode, 1 vs 2 processes, on each shared storage (and memory as the floor)."""
    studies = []
    for storage in ("memory", "sqlite", "journal", "postgresql"):
        rates = {}
        for n_jobs in (1, 2) if storage != "memory" else (1,):
            name = f"scale-{storage}-{n_jobs}-{tag}"
            studies.append(name)
            args = ["--data", daily, *DAILY, "--access", "bulk", "--n-trials", "120"]
            args += ["--n-jobs", str(n_jobs)]
            args += ["--study-name", name, "--storage", storage_url(storage, out, name)]
            s = optimize(args, out)
            rates[n_jobs] = s["trials_per_s"]
            print(
                f"  {storage:10} n_jobs {n_jobs}: {s['trials_per_s']:.2f} trials/s, mean trial "
                f"{ms(s['trial_s']['mean'])}, storage + sampler per trial "
                f"{ms(s['storage_s_per_trial'])}"
            )
        if 2 in rates:
            print(
                f"  {storage:10} 2 vs 1 process: {rates[2] / rates[1]:.2f}x (2 cores: 2.0x at most)"
            )
    return studies


def executor_figures(intraday: str, out: Path, tag: str) -> list[str]:
    """One intraday pair on PostgreSQL: processes, two separate runs, Dask."""
    studies = []
    base = ["--data", intraday, *PAIR, "--n-trials", "100", "--storage", POSTGRES]
    for label, extra in (
        ("1 process", ["--n-jobs", "1"]),
        ("2 processes", ["--n-jobs", "2"]),
        ("dask local:1", ["--executor", "dask", "--dask-scheduler", "local:1"]),
        ("dask local:2", ["--executor", "dask", "--dask-scheduler", "local:2"]),
    ):
        name = f"exec-{label.replace(' ', '-').replace(':', '')}-{tag}"
        studies.append(name)
        s = optimize([*base, *extra, "--study-template", name], out)
        dask = s.get("dask") or {}
        gap = (
            f", gap between tasks {ms(dask.get('dispatch_s_per_trial'))}, result to driver "
            f"{ms(dask.get('result_latency_s'))}"
            if dask
            else ""
        )
        start = (
            f", cluster start {dask['cluster_start_s']:.2f} s" if "cluster_start_s" in dask else ""
        )
        print(
            f"  {label:13}: {s['trials_per_s']:.1f} trials/s (wall {s['wall_s']:.2f} s), "
            f"mean trial {ms(s['trial_s']['mean'])}{gap}{start}"
        )
    # Two independent runs on one study, as the multi-host recipe starts them.
    name = f"exec-two-runs-{tag}"
    studies.append(name)
    args = [*base, "--n-jobs", "1", "--study-template", name]
    start = time.perf_counter()
    runs = [
        subprocess.Popen(
            [*PERFOPT, "optimize", *args, "--no-progress", "--reports-dir", str(out / f"r{i}"),
             "--studies-dir", str(out / "studies")],
            stdout=subprocess.DEVNULL,
        )
        for i in range(2)
    ]  # fmt: skip
    if any(p.wait() for p in runs):
        raise SystemExit("a separate run failed")
    wall = time.perf_counter() - start
    print(f"  2 separate runs: {100 / wall:.1f} trials/s (wall {wall:.2f} s, start-up included)")
    return studies


def drop_postgres_studies(names: list[str]) -> None:
    import optuna

    storage = optuna.storages.get_storage(POSTGRES)
    for summary in optuna.get_all_study_summaries(storage):
        if summary.study_name in names:
            optuna.delete_study(study_name=summary.study_name, storage=storage)


def main(daily: str, intraday: str) -> None:
    """Print every figure with the runs that made it."""
    tag = run_stamp()  # the run-folder stamp: studies of one run share it
    print(f"machine: {os.cpu_count()} logical cores; python {sys.version.split()[0]}")
    with tempfile.TemporaryDirectory(prefix="perfopt-figures-") as tmp:
        out = Path(tmp)
        print("data access (1 process, journal):")
        access_figures(daily, out, tag)
        print("trial parallelism, 120 trials of 500 tickers, bulk:")
        studies = scaling_figures(daily, out, tag)
        print("one intraday pair (1m@15m), 100 trials, PostgreSQL:")
        studies += executor_figures(intraday, out, tag)
        drop_postgres_studies(studies)


if __name__ == "__main__":
    if len(sys.argv) != 3:
        raise SystemExit(__doc__)
    main(sys.argv[1], sys.argv[2])
