"""Trial-parallel efficiency, Dask's per-trial overhead and the samplers' cost per trial.

Usage: python scripts/parallel_figures.py [--data DIR] [--repeats 3] [--only SECTIONS]

One command, a few minutes on a quiet 2-core machine; prints one table per section:

1. parallel: `perfopt optimize` with 1 and 2 trial processes (trial mode, fork) on a
   journal file and on PostgreSQL, 120 trials of about 50 ms (500 tickers, bulk), each
   run a fresh process, the runs of a round in a shuffled order (interleaved), several
   rounds. The ratio (2 processes over 1) is given with its 95% interval and n
   (perfopt.harness.stats, Welch on logs) three ways: the whole process (interpreter
   start, imports, panel load, numba warm-up: everything), the run (the plan's wall:
   the supervisor's load and warm-up and the workers' start counted), and the loop
   (trials only). Also each run's storage + sampler seconds per trial.
2. dask: the same study with one plain trial process against `--executor dask
   --dask-scheduler local:1`; the steady per-trial time of each (the trial loop after
   the objective is built, divided by trials) and their difference with its 95%
   interval, beside the time in the task on the worker, Dask's gap between tasks and
   the result's way back to the driver.
3. heap: one trial process with `--heap keep` (the default) against `--heap system`
   (glibc's malloc defaults), interleaved: the mean trial, the run, and the process's
   minor page faults and kernel (system) CPU seconds per trial.
4. sampler: seconds per trial (ask: sampling all six parameters, and tell) of each
   `--sampler` choice on an in-memory study already holding 100, 1,000 and 5,000
   trials (random values: the sampler's cost, not the search's quality).

DIR is a daily panel from `perfopt data generate --out DIR` (500 tickers); without
--data it is generated once under ~/.cache/perfopt-figures (about 30 s).
PostgreSQL: $PERFOPT_POSTGRES_URL, else postgresql+psycopg://postgres@127.0.0.1:5432/test;
its studies are deleted after. The machine, its load before and after, and what other
processes used during the runs are printed: on a busy machine the parallel ratio is no
evidence (2 processes cannot get 2 cores), so run it again when the machine is quiet.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import resource
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from perfopt.run_folders import run_stamp

PERFOPT = [sys.executable, "-m", "perfopt"]
POSTGRES = (
    os.environ.get("PERFOPT_POSTGRES_URL") or "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
DAILY = ["--seed", "0", "--access", "bulk"]
SECTIONS = ("parallel", "dask", "heap", "sampler")
SAMPLER_SIZES = (100, 1000, 5000)


@dataclass
class Runs:
    """Per-run figures of one configuration."""

    whole_s: list[float] = field(default_factory=list)
    run_s: list[float] = field(default_factory=list)
    loop_s: list[float] = field(default_factory=list)
    storage_s: list[float] = field(default_factory=list)
    trial_s: list[float] = field(default_factory=list)
    extra: list[dict[str, Any]] = field(default_factory=list)


def daily(args: argparse.Namespace) -> list[str]:
    """The study's windows: one per calendar year from --first-year to 2025."""
    return ["--start", f"{args.first_year}-01-01", "--end", "2025-12-31", *DAILY]


def busy_cores() -> tuple[float, float]:
    """(busy, all) clock ticks of the whole machine since boot, from /proc/stat."""
    with open("/proc/stat") as fh:
        fields = [float(x) for x in fh.readline().split()[1:]]
    idle = fields[3] + fields[4]
    return sum(fields) - idle, sum(fields)


def machine_line() -> str:
    """CPU model, cores, Python, load averages."""
    model = platform.processor() or "?"
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    return (
        f"machine: {model}, {os.cpu_count()} logical cores; python {sys.version.split()[0]}; "
        f"load average {load}"
    )


def optimize(args: list[str], out: Path) -> tuple[float, dict[str, Any]]:
    """One `perfopt optimize` in a fresh process: (whole wall seconds, its summary).

    The summary gains `rusage`: the minor page faults and the user and system CPU
    seconds of that process and its children (its trial workers)."""
    summary = out / f"summary-{time.monotonic_ns()}.json"
    cmd = [*PERFOPT, "optimize", *args, "--no-progress", "--summary-json", str(summary)]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    whole = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    s = json.loads(summary.read_text())
    s["rusage"] = {
        "minflt": after.ru_minflt - before.ru_minflt,
        "user_s": after.ru_utime - before.ru_utime,
        "sys_s": after.ru_stime - before.ru_stime,
    }
    return whole, s


def storage_url(kind: str, out: Path, name: str) -> str:
    """A fresh storage: a journal file under `out`, or the PostgreSQL server."""
    return {"journal": f"journal:///{out / (name + '.log')}", "postgresql": POSTGRES}[kind]


def record(runs: Runs, whole: float, s: dict[str, Any]) -> None:
    """Keep one run's figures."""
    runs.whole_s.append(whole)
    runs.run_s.append(s["wall_s"])
    loops = [w["loop_s"] for w in s["workers"] if "loop_s" in w]
    runs.loop_s.append(max(loops) if loops else s["wall_s"])
    runs.storage_s.append(s["storage_s_per_trial"])
    runs.trial_s.append(s["trial_s"]["mean"])


def ratio_text(base: list[float], variant: list[float]) -> str:
    """base / variant (a speed-up of variant) with its 95% interval and n."""
    from perfopt.harness.stats import ratio

    return ratio(variant, base).text()


def parallel_section(args: argparse.Namespace, out: Path, tag: str) -> list[str]:
    """1 vs 2 trial processes on each storage, interleaved in shuffled rounds."""
    studies: list[str] = []
    configs = [(kind, n) for kind in args.storages for n in (1, 2)]
    runs = {c: Runs() for c in configs}
    rng = random.Random(args.seed)
    for r in range(args.repeats):
        order = configs[:]
        rng.shuffle(order)
        for kind, n_jobs in order:
            name = f"par-{kind}-{n_jobs}-{tag}-{r}"
            studies.append(name)
            cmd = ["--data", str(args.data), "--source", args.source, *daily(args)]
            cmd += ["--n-trials", str(args.trials), "--n-jobs", str(n_jobs)]
            cmd += ["--study-name", name, "--storage", storage_url(kind, out, name)]
            whole, s = optimize(cmd, out)
            record(runs[(kind, n_jobs)], whole, s)
            print(
                f"  round {r + 1} {kind:10} n_jobs {n_jobs}: whole {whole:.2f} s, run "
                f"{s['wall_s']:.2f} s, mean trial {s['trial_s']['mean'] * 1e3:.0f} ms",
                flush=True,
            )
    print(
        f"\n  {args.trials} trials, 2 processes over 1 (2 cores: 2.00x at most), "
        f"95% interval, n runs a side:"
    )
    print(f"  {'storage':10} {'whole process':28} {'run (start-up counted)':28} {'trial loop':28}")
    for kind in args.storages:
        one, two = runs[(kind, 1)], runs[(kind, 2)]
        print(
            f"  {kind:10} {ratio_text(one.whole_s, two.whole_s):28} "
            f"{ratio_text(one.run_s, two.run_s):28} {ratio_text(one.loop_s, two.loop_s):28}"
        )
    print("\n  per run (geometric mean [95% interval]):")
    from perfopt.harness.stats import level

    for (kind, n_jobs), r in runs.items():
        print(
            f"  {kind:10} n_jobs {n_jobs}: whole {level(r.whole_s).text('{:.2f}')} s; "
            f"mean trial {level(r.trial_s).value * 1e3:.1f} ms; storage + sampler per trial "
            f"{level(r.storage_s).value * 1e3:.1f} ms"
        )
    return studies


def dask_section(args: argparse.Namespace, out: Path, tag: str) -> list[str]:
    """One plain trial process vs a LocalCluster of one worker: per-trial cost."""
    from scipy import stats

    from perfopt.harness.stats import level

    studies: list[str] = []
    plain, dask = Runs(), Runs()
    rng = random.Random(args.seed + 1)
    n = args.dask_trials
    for r in range(args.repeats):
        order = [("plain", ["--n-jobs", "1"]), ("dask", ["--executor", "dask",
                 "--dask-scheduler", "local:1"])]  # fmt: skip
        rng.shuffle(order)
        for label, extra in order:
            name = f"dask-{label}-{tag}-{r}"
            studies.append(name)
            cmd = ["--data", str(args.data), "--source", args.source, *daily(args)]
            cmd += ["--n-trials", str(n), *extra, "--study-name", name]
            cmd += ["--storage", storage_url(args.dask_storage, out, name)]
            whole, s = optimize(cmd, out)
            if label == "plain":
                (w,) = s["workers"]
                per_trial = w["loop_s"] / n
                record(plain, whole, s)
                plain.extra.append({"per_trial": per_trial})
            else:
                d = s["dask"]
                ready = max(w["ready_s"] for w in s["workers"])
                per_trial = (d["loop_wall_s"] - ready) / n
                record(dask, whole, s)
                dask.extra.append({
                    "per_trial": per_trial,
                    "gap": d.get("dispatch_s_per_trial") or 0.0,
                    "latency": d.get("result_latency_s") or 0.0,
                    "cluster": d.get("cluster_start_s") or 0.0,
                })  # fmt: skip
            print(
                f"  round {r + 1} {label:5}: {per_trial * 1e3:.1f} ms per trial in the loop, "
                f"mean trial {s['trial_s']['mean'] * 1e3:.1f} ms, whole {whole:.2f} s",
                flush=True,
            )
    p = [e["per_trial"] for e in plain.extra]
    d = [e["per_trial"] for e in dask.extra]
    diff = sum(d) / len(d) - sum(p) / len(p)
    ci = stats.ttest_ind(d, p, equal_var=False).confidence_interval(0.95)
    mean = lambda xs: sum(xs) / len(xs)  # noqa: E731
    print(
        f"\n  {n} trials on {args.dask_storage}, per trial in the steady loop (n={args.repeats} a side):"
    )
    print(f"  plain process   {mean(p) * 1e3:7.1f} ms (objective {mean(plain.trial_s) * 1e3:.1f} ms, "
          f"storage + sampler {mean(plain.storage_s) * 1e3:.1f} ms)")  # fmt: skip
    print(f"  dask local:1    {mean(d) * 1e3:7.1f} ms (objective {mean(dask.trial_s) * 1e3:.1f} ms, "
          f"storage + sampler {mean(dask.storage_s) * 1e3:.1f} ms)")  # fmt: skip
    print(
        f"  Dask's overhead per trial: {diff * 1e3:+.1f} ms [{ci.low * 1e3:+.1f}, "
        f"{ci.high * 1e3:+.1f}] (target: within 20 ms); ratio "
        f"{ratio_text(d, p)}"
    )
    print(
        f"  where it goes: gap between tasks on the worker "
        f"{mean([e['gap'] for e in dask.extra]) * 1e3:.1f} ms, result to the driver "
        f"{mean([e['latency'] for e in dask.extra]) * 1e3:.1f} ms (hidden: a task waits "
        f"queued behind each running one), cluster start "
        f"{level([e['cluster'] for e in dask.extra]).value:.2f} s once per run"
    )
    return studies


def heap_section(args: argparse.Namespace, out: Path, tag: str) -> None:
    """One trial process, --heap keep vs system, interleaved: trial time and page faults."""
    from perfopt.harness.stats import level

    runs = {"keep": Runs(), "system": Runs()}
    rng = random.Random(args.seed + 2)
    for r in range(args.repeats):
        order = list(runs)
        rng.shuffle(order)
        for heap in order:
            name = f"heap-{heap}-{tag}-{r}"
            cmd = ["--data", str(args.data), "--source", args.source, *daily(args)]
            cmd += ["--n-trials", str(args.trials), "--n-jobs", "1", "--heap", heap]
            cmd += ["--study-name", name, "--storage", storage_url("journal", out, name)]
            whole, s = optimize(cmd, out)
            record(runs[heap], whole, s)
            runs[heap].extra.append({k: v / args.trials for k, v in s["rusage"].items()})
            print(
                f"  round {r + 1} --heap {heap:6}: run {s['wall_s']:.2f} s, mean trial "
                f"{s['trial_s']['mean'] * 1e3:.1f} ms, {s['rusage']['minflt']} page faults",
                flush=True,
            )
    print(f"\n  {args.trials} trials, one process, journal file (n={args.repeats} a side):")
    for heap, r in runs.items():
        faults = level([e["minflt"] for e in r.extra]).value
        sys_ms = level([e["sys_s"] for e in r.extra]).value * 1e3
        print(
            f"  --heap {heap:6}: mean trial {level(r.trial_s).value * 1e3:.1f} ms, run "
            f"{level(r.run_s).value:.2f} s; per trial {faults:,.0f} minor page faults, "
            f"{sys_ms:.1f} ms in the kernel"
        )
    keep, system = runs["keep"], runs["system"]
    print(
        f"  keep over system: trial {ratio_text(system.trial_s, keep.trial_s)}; "
        f"run {ratio_text(system.run_s, keep.run_s)}"
    )


def sampler_section(args: argparse.Namespace) -> None:
    """Seconds per ask + tell of each sampler on studies of growing size."""
    import warnings

    import numpy as np
    import optuna
    from optuna.distributions import FloatDistribution, IntDistribution

    from perfopt.optimize.config import SAMPLERS, SearchSpace
    from perfopt.optimize.studies import make_sampler

    optuna.logging.set_verbosity(optuna.logging.ERROR)
    warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
    space = SearchSpace()
    dists = {
        "lookback": IntDistribution(*space.lookback),
        "vol_window": IntDistribution(*space.vol_window),
        "w_mom": FloatDistribution(*space.w_mom),
        "w_vol": FloatDistribution(*space.w_vol),
        "w_rsi": FloatDistribution(*space.w_rsi),
        "top_k": IntDistribution(*space.top_k),
    }
    rng = np.random.default_rng(0)

    def history(n: int) -> list[Any]:
        trials = []
        for _ in range(n):
            params = {
                k: (int(rng.integers(d.low, d.high + 1)) if isinstance(d, IntDistribution)
                    else float(rng.uniform(d.low, d.high)))
                for k, d in dists.items()
            }  # fmt: skip
            trials.append(
                optuna.trial.create_trial(params=params, distributions=dists,
                                          value=float(rng.normal()))
            )  # fmt: skip
        return trials

    names = [s for s in SAMPLERS if s != "nsga2"]  # nsga2 needs two objectives
    print(f"\n  time per trial (ask all 6 parameters + tell, median), {args.sampler_asks} asks each:")
    print("  " + f"{'sampler':18}" + "".join(f"{n:>12,}" for n in SAMPLER_SIZES))
    for name in names:
        try:
            make_sampler(name, 0)
        except Exception as exc:  # cmaes absent
            print(f"  {name:18} skipped: {exc}")
            continue
        cells = []
        for n in SAMPLER_SIZES:
            study = optuna.create_study(direction="maximize", sampler=make_sampler(name, 0))
            study.add_trials(history(n))
            times = []
            for _ in range(args.sampler_asks):
                start = time.perf_counter()
                trial = study.ask(dists)
                study.tell(trial, float(rng.normal()))
                times.append(time.perf_counter() - start)
            cells.append(sorted(times)[len(times) // 2])
        print(f"  {name:18}" + "".join(f"{t * 1e3:10.1f}ms" for t in cells), flush=True)


def drop_postgres_studies(names: list[str]) -> None:
    """Delete this script's studies from PostgreSQL."""
    import optuna

    storage = optuna.storages.get_storage(POSTGRES)
    for summary in optuna.get_all_study_summaries(storage):
        if summary.study_name in names:
            optuna.delete_study(study_name=summary.study_name, storage=storage)


def ensure_data(path: Path | None, first_year: int) -> Path:
    """The daily panel to use: --data, else one generated once under ~/.cache.

    The default panel starts in February 2023 (history for windows from 2024); earlier
    windows get a panel of their own starting a year before the first one."""
    if path is not None:
        return path.resolve()
    name, extra = "daily-500", []
    if first_year < 2024:
        name, extra = f"daily-500-from-{first_year - 1}", ["--start", f"{first_year - 1}-01-02"]
    cached = Path.home() / ".cache" / "perfopt-figures" / name
    if not (cached / "manifest.json").exists():
        print(f"generating the daily panel (500 tickers) into {cached} ...", flush=True)
        subprocess.run([*PERFOPT, "data", "generate", *extra, "--out", str(cached)],
                       check=True, stdout=subprocess.DEVNULL)  # fmt: skip
    return cached


def main(argv: list[str] | None = None) -> None:
    """Print the figures of the sections asked for."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=None, help="daily panel folder")
    parser.add_argument("--source", default="hdf5", help="panel file the runs read")
    parser.add_argument("--repeats", type=int, default=3, help="rounds (runs a side)")
    parser.add_argument("--trials", type=int, default=120, help="trials per parallel run")
    parser.add_argument(
        "--first-year",
        type=int,
        default=2024,
        help="first of the yearly windows, which end with 2025 (default 2024: two windows); "
        "each one more makes a trial longer (the generated panel starts a year before)",
    )
    parser.add_argument("--dask-trials", type=int, default=60, help="trials per Dask run")
    parser.add_argument("--dask-storage", default="journal", choices=["journal", "postgresql"])
    parser.add_argument("--storages", default="journal,postgresql", help="comma-separated")
    parser.add_argument("--sampler-asks", type=int, default=5, help="asks per sampler size")
    parser.add_argument("--only", default=",".join(SECTIONS), help="comma-separated sections")
    parser.add_argument("--seed", type=int, default=0, help="seed of the run order")
    args = parser.parse_args(argv)
    args.storages = [s for s in args.storages.split(",") if s]
    sections = [s for s in args.only.split(",") if s]
    unknown = set(sections) - set(SECTIONS)
    if unknown:
        raise SystemExit(f"unknown section(s) {sorted(unknown)}; choose from {SECTIONS}")
    print(machine_line(), flush=True)
    tag = run_stamp()  # the run-folder stamp: studies of one run share it
    studies: list[str] = []
    busy0, _ = busy_cores()
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="perfopt-parallel-") as tmp:
        out = Path(tmp)
        try:
            if {"parallel", "dask", "heap"} & set(sections):
                args.data = ensure_data(args.data, args.first_year)
            if "parallel" in sections:
                print(f"\n[parallel] trial processes, {args.repeats} interleaved rounds:")
                studies += parallel_section(args, out, tag)
            if "dask" in sections:
                print(f"\n[dask] plain process vs LocalCluster, {args.repeats} rounds:")
                studies += dask_section(args, out, tag)
            if "heap" in sections:
                print(f"\n[heap] --heap keep vs system, {args.repeats} interleaved rounds:")
                heap_section(args, out, tag)
            if "sampler" in sections:
                print("\n[sampler] cost per trial as the study grows (in-memory storage):")
                sampler_section(args)
        finally:
            if "postgresql" in [*args.storages, args.dask_storage]:
                drop_postgres_studies(studies)
    busy1, _ = busy_cores()
    wall = time.perf_counter() - t0
    ticks = os.sysconf("SC_CLK_TCK")
    own = resource.getrusage(resource.RUSAGE_CHILDREN)
    me = resource.getrusage(resource.RUSAGE_SELF)
    own_s = own.ru_utime + own.ru_stime + me.ru_utime + me.ru_stime
    others = max(0.0, ((busy1 - busy0) / ticks - own_s) / wall) if wall > 0 else 0.0
    print(
        f"\ndone in {wall:.0f} s; other processes used {others:.2f} of {os.cpu_count()} "
        f"cores on average meanwhile (above about 0.2, the 2-process ratios are no evidence); "
        f"after: {machine_line()}"
    )


if __name__ == "__main__":
    main()
