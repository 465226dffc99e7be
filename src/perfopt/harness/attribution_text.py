"""The three views of where a cell's time went, in words, and where they disagree.

Stage timers, the psutil sampler and py-spy each see part of the truth; these texts
fill the report's side-by-side table, and `disagreement` names the cases where one
view's reading contradicts another's (a "data" stage that py-spy sees computing, a
busy CPU that py-spy sees waiting).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from perfopt.harness.markdown import duration, size
from perfopt.harness.view_records import PsutilView, PyspyView

_IO_CATS = ("database IO", "file IO", "Optuna storage", "IPC and pickling")
_COMPUTE_CATS = ("numeric compute", "Python compute")
_DATA_STAGE_WORDS = ("load", "data", "read", "io", "storage", "wait", "fetch", "query")


def psutil_text(ps: PsutilView | None) -> str:
    """CPU, memory, IO, threads and context switches of the process tree, in one line."""
    if ps is None:
        return "-"
    if ps.available is False:
        return f"off: {ps.reason if 'reason' in ps.data else 'not recorded'}"
    cores = _or(ps.cores_available, "?")
    parts = [
        f"CPU {ps.cpu_utilization_cores or 0:.2f} cores "
        f"({ps.utilization_pct_of_available or 0:.0f}% of {cores})",
        f"user {ps.cpu_user_s or 0:.2f} s sys {ps.cpu_system_s or 0:.2f} s",
        f"peak RSS {size(ps.peak_rss_bytes)}",
        f"IO r {size(ps.read_bytes)} w {size(ps.write_bytes)}",
        f"threads {_or(ps.max_threads, '?')}",
        f"ctx vol/invol {_or(ps.ctx_switches_voluntary, 0)}/{_or(ps.ctx_switches_involuntary, 0)}",
    ]
    if ps.iowait_s:
        parts.append(f"iowait {ps.iowait_s:.2f} s")
    states = ps.thread_states
    if states is not None and states.available:
        parts.append(f"threads running or runnable {states.runnable_mean or 0:.1f} on average")
    return "; ".join(parts)


def pyspy_text(spy: PyspyView | None) -> str:
    """py-spy's top categories and function, its sample count and how it watched."""
    if spy is None:
        return "-"
    if not spy.available or not spy.samples:
        return f"off: {spy.reason or 'no samples'}"
    cats = sorted(spy.categories.items(), key=lambda kv: (-kv[1], kv[0]))
    top = ", ".join(f"{k} {100 * v:.0f}%" for k, v in cats[:3] if v > 0)
    funcs = [f for f in spy.top_functions if f.get("file")]
    lead = f"; top: {funcs[0].get('function')}" if funcs else ""
    run = spy.run_seconds
    where = f"; separate run {duration(run)}" if run is not None else ""
    if spy.attached_to_timed_run:
        where = "; attached to a timed run"
    if spy.native is not None:  # results from before native frames do not say
        where += "; native frames" if spy.native else "; no native frames"
    cost = spy.cost_share_of_target_cpu
    if cost is not None:
        where += f"; py-spy CPU {100 * cost:.0f}% of the run's"
    return f"{top} ({spy.samples} samples{where}){lead}"


def verdict_text(value: Any) -> str:
    """A verdict value as "**kind**: text"; an older result's string verdict as it is."""
    if isinstance(value, Mapping):
        return f"**{value.get('kind', '?')}**: {value.get('text', '')}"
    return str(value) if value else "-"


def pyspy_slowdown(spy: PyspyView | None, timed: float | None) -> str:
    """A warning when py-spy's separate run was much slower than the timed runs."""
    if spy is None or spy.attached_to_timed_run:
        return ""
    run = spy.run_seconds
    if run is None or not timed or run < 1.5 * timed:
        return ""
    return (
        f"py-spy slowed its run {run / timed:.1f}x ({duration(run)} vs {duration(timed)} "
        "timed): its shares over-weight what the profiler slowed (often process start-up)"
    )


def disagreement(
    stages: Sequence[tuple[str, float]], ps: PsutilView | None, spy: PyspyView | None
) -> str:
    """Where the stage timers, psutil and py-spy contradict each other, or ""."""
    cats = spy.sampled_categories if spy is not None else {}
    io = sum(cats.get(k, 0.0) for k in _IO_CATS)
    compute = sum(cats.get(k, 0.0) for k in _COMPUTE_CATS)
    waiting = cats.get("waiting or idle", 0.0)
    data = sum(v for k, v in stages if any(w in k.lower() for w in _DATA_STAGE_WORDS))
    notes = []
    if cats and stages:
        if data >= 0.5 and compute >= 0.5:
            notes.append(
                f"stage timers put {100 * data:.0f}% in data stages but py-spy sees "
                f"{100 * compute:.0f}% compute: the 'data' stage is converting rows in Python, "
                "not waiting on IO"
            )
        if data < 0.5 and stages and io >= 0.5:
            notes.append(
                f"stage timers put {100 * (1 - data):.0f}% in compute stages but py-spy sees "
                f"{100 * io:.0f}% IO/storage/IPC"
            )
    available = ps is not None and ps.available is not False
    util = ps.cpu_utilization_cores if ps is not None and available else None
    cores = (ps.cores_available if ps is not None else None) or 0
    if cats and util is not None:
        if util < 0.3 and compute >= 0.6:
            notes.append(
                f"py-spy sees {100 * compute:.0f}% compute but the tree used only {util:.2f} "
                "cores: samples fall on threads that hold no core (GIL or sleeps)"
            )
        if cores and util >= 0.8 * cores and waiting >= 0.6:
            notes.append(
                f"the CPU is busy ({util:.2f} cores) while py-spy sees {100 * waiting:.0f}% "
                "waiting: the work runs in native threads or non-Python processes"
            )
    return "; ".join(notes)


def _or(value: Any, default: Any) -> Any:
    """The value, or the default when the view did not record it."""
    return default if value is None else value
