"""The one-line verdict that puts the psutil and py-spy views together."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from perfopt.profiling._classify import STARTUP_REASONS

_GROUPS = {
    "database IO": "IO-bound",
    "file IO": "IO-bound",
    "IPC and pickling": "IO-bound",
    "Optuna storage": "IO-bound",
    "numeric compute": "CPU-bound",
    "Python compute": "CPU-bound",
    "waiting or idle": "waiting",
    "other": "unclear",
}
# At or above this share of the cores, the machine counts as busy.
_BUSY_PCT = 75.0
# Below this, samples that say "compute" contradict the CPU counters.
_IDLE_PCT = 25.0
# Mean processes of the tree in state R (running or waiting for a core) that mean
# "it wanted the CPU".
_RUNNABLE = 0.5


def verdict(sampler_summary: Mapping[str, Any], pyspy_summary: Mapping[str, Any] | None) -> str:
    """Say in one line how busy the cores were, where the samples went, and the bound.

    With --idle sampling, idle helper processes and threads add "waiting" samples: the
    samples of supervisor processes (waiting while others work) and of helper threads
    blocked in a wait are left out, and when the cores are busy anyway, the verdict
    names the top category other than waiting.
    When "other" leads because of imports and interpreter start/exit, it says start-up.
    When the two views disagree, the line says so.
    """
    pct = float(sampler_summary.get("utilization_pct_of_available", 0.0))
    cores = int(sampler_summary.get("cores_available", 1))
    used = float(sampler_summary.get("cpu_utilization_cores", 0.0))
    head = f"CPU {pct:.0f}% of {cores} core{'s' if cores != 1 else ''}"
    if not pyspy_summary or not pyspy_summary.get("available") or not pyspy_summary.get("samples"):
        label = "CPU-bound" if pct >= _BUSY_PCT else "not CPU-bound"
        return f"{head}; no py-spy samples: {label}"
    # the working view (summaries written before it have only "categories")
    working = pyspy_summary.get("working_categories") or pyspy_summary.get("categories", {})
    shares = {c: s for c, s in working.items() if s > 0}
    ranked = sorted(shares.items(), key=lambda kv: -kv[1])
    top, share = ranked[0]
    left_out = [k for k, v in (pyspy_summary.get("working_left_out") or {}).items() if v]
    note = f" ({' and '.join(left_out)} aside)" if left_out else ""
    if top == "waiting or idle" and pct >= _BUSY_PCT and len(ranked) > 1:
        top, share = ranked[1]
        note += " (idle helpers aside)"
    if top == "other":
        reasons = pyspy_summary.get("working_other_reasons")
        if reasons is None:
            reasons = pyspy_summary.get("other_reasons") or {}
        startup = _startup_text(reasons, share)
        if startup:
            return f"{head}; {100 * share:.0f}% of samples in other, {startup}"
    label = _GROUPS.get(top, "unclear")
    runnable = float(sampler_summary.get("runnable_mean") or 0.0)
    if label == "CPU-bound" and pct < _IDLE_PCT and runnable >= _RUNNABLE:
        # Ready to run but not running: other work on the machine held the cores.
        label = f"CPU-bound, but got only {used:.1f} cores (the machine was busy with other work)"
    elif label == "CPU-bound" and pct < _IDLE_PCT:
        label = "views disagree: samples say compute but the CPU was mostly idle"
    elif label == "waiting" and pct >= _BUSY_PCT:
        label = "views disagree: samples say waiting but the CPU was busy"
    elif label == "CPU-bound" and used < cores - 0.5:
        label = f"CPU-bound, using {used:.1f} of {cores} cores"
    return f"{head}; {100 * share:.0f}% of samples in {top}{note}: {label}"


def _startup_text(other_reasons: Mapping[str, float], other_share: float) -> str:
    """Name start-up as the cause when imports and frameless samples make most of "other"."""
    startup = {r: s for r, s in other_reasons.items() if r in STARTUP_REASONS and s > 0}
    if not startup or sum(startup.values()) < other_share / 2:
        return ""
    ranked = sorted(startup.items(), key=lambda kv: -kv[1])
    parts = ", ".join(f"{r.split(' (')[0]} {100 * s:.0f}%" for r, s in ranked)
    return f"mostly start-up ({parts}): start-up-bound, the work is short beside it"
