"""Thread pools and the oversubscription check: compute threads against cores."""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from typing import Any

from perfopt.machine import logical_cores
from perfopt.profiling._verdict import oversubscribed_at


def threadpools() -> list[dict[str, Any]]:
    """Return this process's BLAS/OpenMP pools (threadpoolctl): api, library, threads."""
    from threadpoolctl import threadpool_info  # only loaded libraries are listed

    return [
        {
            "user_api": info.get("user_api"),
            "internal_api": info.get("internal_api"),
            "num_threads": info.get("num_threads"),
            "filepath": os.path.basename(info.get("filepath") or ""),
        }
        for info in threadpool_info()
    ]


def _pool_threads(pools: list[dict[str, Any]] | None) -> int | None:
    if not pools:
        return None
    sizes = [
        int(p["num_threads"])
        for p in pools
        if p.get("user_api") in ("blas", "openmp") and p.get("num_threads")
    ]
    return max(sizes) if sizes else None


def _peak_overlap(intervals: list[tuple[float, float, int]]) -> int:
    """Largest sum of weights over intervals (start, end, weight) alive at one time."""
    events = sorted(
        [(start, 1, w) for start, _, w in intervals] + [(end, 0, -w) for _, end, w in intervals]
    )  # at equal times, ends (0) sort before starts (1): touching spans do not overlap
    peak = current = 0
    for _, _, weight in events:
        current += weight
        peak = max(peak, current)
    return peak


def oversubscription(
    sampler_summary: Mapping[str, Any],
    threadpools_by_pid: Mapping[int, list[dict[str, Any]]] | None = None,
    cores: int | None = None,
) -> dict[str, Any]:
    """Compare the compute threads of busy processes with the cores available.

    A process is busy when it used at least half a core over its observed life (the
    sampler's `busy` flag). Its compute threads are the largest of its BLAS/OpenMP pool
    (when `threadpools_by_pid` knows it), the cores it was measured using (rounded), and
    1. Only busy processes alive at the same time add up. Oversubscribed when those
    threads, or the busy processes themselves, exceed the cores; where the summary has
    thread states, when the threads running or runnable, averaged over the run, exceed
    the cores (the measured demand; the pool arithmetic stays in the reason).
    """
    cores = int(cores or sampler_summary.get("cores_available") or logical_cores())
    pools = threadpools_by_pid or {}
    rows = []
    busy_spans: list[tuple[float, float, int]] = []
    busy_procs: list[tuple[float, float, int]] = []
    for proc in sampler_summary.get("processes", []):
        pid = int(proc["pid"])
        blas = _pool_threads(pools.get(pid))
        measured = math.floor(float(proc.get("cpu_cores", 0.0)) + 0.5)
        compute = max(blas or 1, measured, 1)
        busy = bool(proc.get("busy"))
        rows.append(
            {
                "pid": pid,
                "name": proc.get("name"),
                "threads": proc.get("max_threads"),
                "blas_threads": blas,
                "cpu_cores": proc.get("cpu_cores"),
                "busy": busy,
                "compute_threads": compute,
            }
        )
        if busy:
            span = (float(proc.get("first_seen_s", 0.0)), float(proc.get("last_seen_s", 0.0)))
            busy_spans.append((*span, compute))
            busy_procs.append((*span, 1))
    threads = _peak_overlap(busy_spans)
    busy_count = _peak_overlap(busy_procs)
    if not busy_spans:
        oversubscribed, reason = False, f"no process was busy (>= half a core) on {cores} cores"
    else:
        oversubscribed = threads > cores or busy_count > cores
        verb = "exceed" if oversubscribed else "fit"
        reason = (
            f"{busy_count} busy process(es) at once with {threads} compute thread(s) "
            f"{verb} {cores} core(s)"
        )
        if not pools:
            reason += " (BLAS pools unknown: threads counted from CPU use)"
    states = sampler_summary.get("thread_states") or {}
    runnable_threads = None
    if states.get("available"):
        # Measured demand decides; the pool arithmetic above stays as the estimate.
        runnable_threads = float(states.get("runnable_mean", 0.0))
        estimate = "over" if oversubscribed else "within"
        oversubscribed = runnable_threads > oversubscribed_at(cores)
        reason = (
            f"{runnable_threads:.1f} threads running or runnable on average on {cores} "
            f"core(s) (thread states); estimate from pools: {estimate}, {reason}"
        )
    return {
        "cores": cores,
        "processes": rows,
        "busy_processes": busy_count,
        "compute_threads": threads,
        "runnable_mean": sampler_summary.get("runnable_mean"),
        "runnable_threads_mean": runnable_threads,
        "oversubscribed": oversubscribed,
        "reason": reason,
    }
