"""From the probe's measurements to a recommended plan, each choice with its reason.

Rules (every number in a reason is one the probe measured on this machine):

- mode: worker processes when 2 processes are significantly faster than 2 threads
  (the 95% interval of their trials/s ratio lies above 1), or when the objective is
  CPU-bound (CPU seconds per wall second >= 0.5: Python holds the GIL, so threads
  take turns). Otherwise threads are acceptable (the objective waits: on IO, a sleep,
  a server), and processes are still the default for their isolation.
- n_jobs: the 1 vs 2 process speedup, fitted with Amdahl's law (perfopt.harness.stats)
  and projected to this machine's physical cores; the largest count up to the cores
  whose projected step still adds 5%. 1 when 2 processes were not faster.
- start method: the fastest measured start-up (import and setup in a fresh worker).
- storage: the cheapest measured storage that worker processes can share (journal,
  SQLite, or the server given); its cost per trial against the trial's own time.
- BLAS threads: cores divided by n_jobs, at least 1 (a rule, not a measurement: more
  compute threads than cores only take turns); perfopt's default is 1 per process.
"""

from __future__ import annotations

import math
import shutil
import time
from dataclasses import asdict, dataclass, field
from typing import Any

import perfopt.advise.probe as probes
from perfopt.errors import UserError
from perfopt.optimize.storage_kinds import KIND_NAMES, kind_named
from perfopt.optimize.user_objective import UserTask

CPU_BOUND = 0.5  # CPU seconds per wall second above which threads contend for the GIL
STEP_GAIN = 1.05
# Storages worker processes can share (memory cannot).
SHARED = tuple(k for k in KIND_NAMES if kind_named(k).multi_process)


@dataclass
class Choice:
    """One setting of the plan and why."""

    setting: str
    value: Any
    reason: str


@dataclass
class Advice:
    """What advise measured and what it recommends."""

    objective: str
    budget_s: float
    elapsed_s: float
    cores: int
    trial: probes.TrialProbe | None
    storages: dict[str, float]
    startup: dict[str, float]
    scaling: probes.ScalingRuns | None
    choices: list[Choice] = field(default_factory=list)
    threads_acceptable: bool = False
    notes: list[str] = field(default_factory=list)
    command: str = ""

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready values."""
        return asdict(self)

    def choice(self, setting: str) -> Any:
        """The recommended value of a setting."""
        return next(c.value for c in self.choices if c.setting == setting)


def advise(
    task: UserTask,
    budget_s: float = 120.0,
    storage: str | None = None,
    methods: tuple[str, ...] = ("fork", "forkserver", "spawn"),
) -> Advice:
    """Probe `task` within about `budget_s` seconds and recommend a plan."""
    from perfopt.machine import physical_cores

    task.load()  # bad SPECs fail before anything runs
    start = time.perf_counter()
    folder = probes.temp_folder()
    cores = physical_cores()
    notes: list[str] = []
    try:
        startup = probes.probe_startup(task, methods, timeout=max(10.0, budget_s / 4))
        storages = probes.probe_storages(probes.storage_urls(folder, storage))
        trial = _probe_trial_fresh(task)
        used = time.perf_counter() - start
        scaling = _scaling(task, trial, storages, startup, budget_s - used, folder, notes)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    advice = Advice(task.label, budget_s, 0.0, cores, trial, storages, startup, scaling,
                    notes=notes)  # fmt: skip
    _decide(advice, storage)
    advice.elapsed_s = time.perf_counter() - start
    return advice


def _probe_trial_fresh(task: UserTask) -> probes.TrialProbe:
    """probe_trial in a spawned process: this one stays free of the objective's threads
    (forking after, say, a multi-threaded torch op can hang the child)."""
    import multiprocessing

    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(1) as pool:
        return pool.apply(probes.probe_trial, (task,))


def _scaling(
    task: UserTask,
    trial: probes.TrialProbe,
    storages: dict[str, float],
    startup: dict[str, float],
    left_s: float,
    folder: Any,
    notes: list[str],
) -> probes.ScalingRuns | None:
    """Size the interleaved runs to what is left of the budget (3 repeats if they fit)."""
    per_trial = trial.trial_s + trial.optuna_s + storages.get("journal", 0.0)
    method = min(startup, key=startup.get) if startup else "fork"
    overhead = 0.5 + startup.get(method, 0.0)  # study creation and worker start, per run
    for repeats in (3, 2, 1):
        runs = 3 * repeats
        per_run = left_s / runs - overhead
        trials = int(per_run / per_trial) if per_trial > 0 else 0
        if trials >= 4:
            trials = min(trials, 200)
            break
    else:
        notes.append(
            f"the budget left ({left_s:.0f} s) holds no run of 4 trials of {per_trial:.2f} s: "
            "no scaling measured; give a larger --budget"
        )
        return None
    if repeats < 3:
        notes.append(f"{repeats} repeat(s) per plan fit the budget: intervals need 3")
    return probes.probe_scaling(task, trials, repeats, method, folder)


def _ratio(base: list[float], variant: list[float]) -> Any:
    from perfopt.harness import stats

    return stats.ratio(base, variant)


def _decide(a: Advice, storage: str | None) -> None:
    trial = a.trial
    assert trial is not None
    cpu_bound = trial.cpu_per_wall >= CPU_BOUND
    attribution = (
        f"a trial takes {trial.trial_s * 1000:.0f} ms of its own work"
        + (" (" + ", ".join(f"{k} {v * 1000:.0f} ms" for k, v in trial.stages.items()) + ")"
           if trial.stages else "")
        + f" plus {trial.optuna_s * 1000:.1f} ms in Optuna calls, at "
        f"{trial.cpu_per_wall:.2f} CPU s per wall s"
    )  # fmt: skip
    procs_vs_threads = procs_speedup = None
    if a.scaling is not None:
        rates = a.scaling.rates
        procs_vs_threads = _ratio(rates["2 threads"], rates["2 processes"])
        procs_speedup = _ratio(rates["1 process"], rates["2 processes"])
    # mode
    faster = procs_vs_threads is not None and (procs_vs_threads.low or 0.0) > 1.0
    if faster:
        mode, why = "trial", (
            f"2 processes ran {procs_vs_threads.text()} the trials/s of 2 threads"
        )
    elif cpu_bound:
        mode, why = "trial", (
            f"the objective is CPU-bound ({attribution}): Python threads take turns on the GIL"
            + (f"; 2 processes vs 2 threads: {procs_vs_threads.text()}" if procs_vs_threads else "")
        )
    else:
        mode, why = "trial", (
            f"the objective mostly waits ({attribution}), so threads are acceptable too"
            + (f" (2 processes vs 2 threads: {procs_vs_threads.text()})" if procs_vs_threads else "")
            + "; processes keep a crash or a leak to one worker"
        )
    a.threads_acceptable = not faster and not cpu_bound
    a.choices.append(Choice("mode", mode, why))
    # n_jobs
    a.choices.append(Choice("n_jobs", *_n_jobs(procs_speedup, a.cores)))
    # start method
    if a.startup:
        best = min(a.startup, key=a.startup.get)
        shown = ", ".join(f"{m} {s:.2f} s" for m, s in sorted(a.startup.items(), key=lambda x: x[1]))
        a.choices.append(Choice(
            "start_method", best, f"worker ready (objective imported, setup run): {shown}"
        ))  # fmt: skip
    # storage
    shared = {k: v for k, v in a.storages.items() if k in SHARED}
    if shared:
        best = min(shared, key=shared.get)
        cost = shared[best]
        share = cost / (trial.trial_s + cost) if trial.trial_s + cost > 0 else math.nan
        shown = ", ".join(f"{k} {v * 1000:.1f} ms" for k, v in sorted(a.storages.items(), key=lambda x: x[1]))
        reason = (
            f"Optuna's cost per trial: {shown} (memory cannot be shared by processes); "
            f"{best} is {100 * share:.0f}% of a trial here"
        )
        if not kind_named(best).multi_host:
            reason += "; use PostgreSQL when workers run on several hosts"
        a.choices.append(Choice("storage", best, reason))
    # BLAS threads
    n_jobs = a.choice("n_jobs")
    blas = max(1, a.cores // max(1, n_jobs))
    pools = ", ".join(f"{k}={v}" for k, v in trial.thread_pools.items()) or "none loaded"
    a.choices.append(Choice(
        "blas_threads", blas,
        f"{a.cores} physical cores / n_jobs {n_jobs} (a rule: more compute threads than "
        f"cores take turns); the objective's thread pools in one process: {pools}",
    ))  # fmt: skip
    a.command = _command(a, storage)


def _n_jobs(speedup: Any, cores: int) -> tuple[int, str]:
    if speedup is None:
        return 1, "no scaling run fitted the budget; 1 until measured"
    if speedup.value <= 1.0 or (speedup.low is not None and speedup.high is not None
                                and speedup.high < 1.0):  # fmt: skip
        return 1, f"2 processes were not faster than 1: {speedup.text()}"
    from perfopt.harness import stats

    text = f"2 processes vs 1: {speedup.text()}"
    if speedup.low is None or speedup.low <= 1.0:
        text += " (not significant at this budget: the interval reaches 1)"
    if cores <= 2:
        return 2, text + f"; this machine has {cores} physical cores"
    fit = stats.fit_scaling([(2, speedup)])
    if fit is None:
        return 2, text + "; no scaling law fitted"
    best = 2
    for n in range(3, cores + 1):
        if fit.speedup(n) / fit.speedup(n - 1) >= STEP_GAIN:
            best = n
    proj = stats.project(fit, best)
    return best, text + f"; {proj.text()}; each step up to {best} adds >= 5%"


def _command(a: Advice, storage: str | None) -> str:
    values = {c.setting: c.value for c in a.choices}
    kind = values.get("storage")
    url = {
        "journal": "journal:///path/to/study.log",
        "sqlite": "sqlite:///path/to/study.db",
    }.get(kind, "URL")  # a server's URL stays the user's (it may hold a password)
    parts = [
        f"perfopt optimize --objective {a.objective}",
        f"--parallel-mode {values['mode']}",
        f"--n-jobs {values['n_jobs']}",
    ]
    if "start_method" in values:
        parts.append(f"--start-method {values['start_method']}")
    parts += [f"--storage {url}", f"--blas-threads {values['blas_threads']}"]
    return " ".join(parts)


def format_advice(a: Advice) -> str:
    """The measurements and the plan as text."""
    t = a.trial
    lines = [f"perfopt advise: {a.objective} ({a.elapsed_s:.0f} s of a {a.budget_s:.0f} s budget, "
             f"{a.cores} physical cores)"]  # fmt: skip
    if t is not None:
        stages = ", ".join(f"{k} {v * 1000:.1f} ms" for k, v in t.stages.items()) or "no stages"
        lines.append(
            f"trial: {t.trial_s * 1000:.1f} ms own work (median of {t.trials}; first trial "
            f"{t.first_s:.2f} s), Optuna calls {t.optuna_s * 1000:.1f} ms, "
            f"{t.cpu_per_wall:.2f} CPU s per wall s; stages per trial: {stages}"
        )
    if a.storages:
        lines.append("storage cost per trial: " + ", ".join(
            f"{k} {v * 1000:.1f} ms" for k, v in a.storages.items()))  # fmt: skip
    if a.startup:
        lines.append("worker start-up: " + ", ".join(f"{k} {v:.2f} s" for k, v in a.startup.items()))
    if a.scaling is not None:
        lines.append(f"throughput ({a.scaling.trials_per_run} trials a run, interleaved):")
        for name, rates in a.scaling.rates.items():
            lines.append(f"  {name}: " + ", ".join(f"{r:.2f}" for r in rates) + " trials/s")
    lines.append("recommended plan:")
    for c in a.choices:
        lines.append(f"  {c.setting} = {c.value}: {c.reason}")
    lines.append(f"  threads acceptable: {'yes' if a.threads_acceptable else 'no'}")
    lines += [f"note: {n}" for n in a.notes]
    lines.append(f"run it: {a.command}")
    return "\n".join(lines)


def parse_budget(text: str) -> float:
    """'120', '120s', '2m' or '1.5min' as seconds."""
    s = text.strip().lower()
    for suffix, factor in (("min", 60.0), ("m", 60.0), ("s", 1.0)):
        if s.endswith(suffix):
            s, scale = s[: -len(suffix)], factor
            break
    else:
        scale = 1.0
    try:
        value = float(s) * scale
    except ValueError:
        raise UserError(f"--budget {text!r}: give seconds, e.g. 120s or 2m") from None
    if not (math.isfinite(value) and value >= 10):
        raise UserError(f"--budget {text!r}: at least 10 s (the probe needs that much)")
    return value
