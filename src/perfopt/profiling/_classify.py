"""Classify py-spy stacks (rules in `_rules`) and add them up: shares, top functions,
processes, threads."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable
from typing import Any

from perfopt.profiling._rules import (
    CATEGORIES,
    DB_WAIT,
    GIL_WAIT,
    NET_WAIT,
    RULES,
    STARTUP_REASONS,
    Rule,
    classify,
)
from perfopt.profiling._stacks import Stack, parse_raw, parse_record

__all__ = ["CATEGORIES", "RULES", "Rule", "classify_stack", "classify_stacks"]

TOP_FUNCTIONS = 10
_EXPLAINED = ("start-up", "unclassified")  # categories whose reasons are kept


def _classify(stack: Stack, native: bool = False) -> tuple[str, str]:
    return classify(stack, native)


def classify_stack(line: str, native: bool = False) -> str:
    """Return the category of one raw py-spy record ("frame;frame;... count").

    `native`: the record comes from py-spy --native (only then can an innermost Python
    frame count as Python compute).
    """
    stack = parse_record(line.rstrip("\r\n"))
    if stack is None:
        raise ValueError(f"not a py-spy raw record: {line[:80]!r}")
    return _classify(stack, native)[0]


def _short_path(path: str) -> str:
    parts = path.replace("\\", "/").split("/")
    for marker in ("site-packages", "dist-packages"):
        if marker in parts:
            return "/".join(parts[parts.index(marker) + 1 :])
    if len(parts) > 3 and "lib" in parts and any(p.startswith("python3") for p in parts):
        return "/".join(parts[-1:])  # standard library: the module file is enough
    return "/".join(parts[-2:]) if len(parts) > 2 else path


# A process that waits (start-up and idle helper threads aside) while another process
# of the tree works is a supervisor: a parent joining its workers, a Dask scheduler, a
# resource tracker. Its samples say where it sat, not where the work went, so the
# working view leaves them out, as it leaves out helper threads blocked in a wait. A
# parent of sampled processes needs to wait half its time to count, any other process
# nearly all of it (a worker stalled on a queue must stay in view); and either must work
# less than half as much as the busiest one (a driver whose scheduler thread works stays).
SUPERVISOR_WAITING = 0.9
PARENT_WAITING = 0.5
SUPERVISOR_BUSY = 0.5


def _shares(counts: Counter[str], keys: Iterable[str], total: int) -> dict[str, float]:
    """counts[k] / total for each key, rounded (0.0 for an empty view)."""
    return {k: round(counts[k] / total, 4) if total else 0.0 for k in keys}


def _helper_thread(stack: Stack) -> bool:
    """A thread started with threading.Thread (not the main thread of its process)."""
    first = stack.frames[0] if stack.frames else None
    return (
        first is not None
        and first.function.rsplit(".", 1)[-1] == "_bootstrap"
        and first.file.endswith("threading.py")
    )


def classify_stacks(lines: Iterable[str], native: bool = False) -> dict[str, Any]:
    """Classify py-spy raw lines: sample share per category, top functions, per process.

    `native`: the lines come from py-spy --native. Returns {samples, unparsed_lines,
    native, categories: {category: share 0..1} (every category, in CATEGORIES order),
    category_samples, reasons: {why a sample is start-up or unclassified: share of all
    samples}, top_functions: [{function, file, share, category}], processes: [{pid,
    cmdline, samples, top_category, supervisor}], threads: [{tid, pid, name, samples,
    categories: {category: samples}, db_waits, net_waits, gil_waits}] (with py-spy --threads),
    working_categories: the category shares without supervisor processes and idle
    helper threads (the stack-only view), working_reasons: reasons as shares of that
    view, working_left_out: {what was left out: samples}}. Top functions are the
    innermost Python frames (self time).
    """
    by_category: Counter[str] = Counter()
    reasons: Counter[str] = Counter()
    by_function: Counter[tuple[str, str]] = Counter()
    function_categories: dict[tuple[str, str], Counter[str]] = defaultdict(Counter)
    by_process: dict[int, Counter[str]] = defaultdict(Counter)
    kept: dict[int, Counter[str]] = defaultdict(Counter)  # without idle helper threads
    kept_reasons: dict[int, Counter[str]] = defaultdict(Counter)
    threads: dict[int, dict[str, Any]] = {}
    startup: Counter[int] = Counter()
    cmdlines: dict[int, str] = {}
    parents: set[int] = set()
    idle_helpers = unparsed = 0
    for stack in parse_raw(lines):
        if stack is None:
            unparsed += 1
            continue
        category, reason = _classify(stack, native)
        n = stack.count
        by_category[category] += n
        if category in _EXPLAINED:
            reasons[reason] += n
        python = [f for f in stack.frames if not f.native]
        key = (
            (python[-1].function, _short_path(python[-1].file))
            if python
            else ("(no Python frames)", "")
        )
        by_function[key] += n
        function_categories[key][category] += n
        pid = 0
        if stack.processes:
            pid, cmdline = stack.processes[-1]
            cmdlines.setdefault(pid, " ".join(cmdline.split())[:120])
            parents.update(p for p, _ in stack.processes[:-1])
        by_process[pid][category] += n
        if stack.thread is not None:
            _count_thread(threads, stack, pid, category, reason)
        if category == "waiting or idle" and _helper_thread(stack):
            idle_helpers += n
            continue
        kept[pid][category] += n
        if category in _EXPLAINED:
            kept_reasons[pid][reason] += n
        if reason in STARTUP_REASONS:
            startup[pid] += n
    total = sum(by_category.values())
    supervisors = _supervisors(kept, startup, parents)
    working: Counter[str] = Counter()
    working_reasons: Counter[str] = Counter()
    for pid, counts in kept.items():
        if pid not in supervisors:
            working.update(counts)
            working_reasons.update(kept_reasons[pid])
    view, view_reasons = (working, working_reasons) if working else (by_category, reasons)
    view_total = sum(view.values())
    left_out = {
        "supervisor processes": sum(sum(kept[pid].values()) for pid in supervisors),
        "idle helper threads": idle_helpers,
    }
    return {
        "samples": total,
        "unparsed_lines": unparsed,
        "native": native,
        "categories": _shares(by_category, CATEGORIES, total),
        "category_samples": {c: by_category[c] for c in CATEGORIES},
        "reasons": _shares(reasons, [r for r, _ in reasons.most_common()], total),
        "working_categories": _shares(view, CATEGORIES, view_total),
        "working_reasons": _shares(
            view_reasons, [r for r, _ in view_reasons.most_common()], view_total
        ),
        "working_left_out": {k: v for k, v in left_out.items() if v and working},
        "top_functions": [
            {
                "function": function,
                "file": file,
                "share": round(n / total, 4),
                "category": function_categories[(function, file)].most_common(1)[0][0],
            }
            for (function, file), n in by_function.most_common(TOP_FUNCTIONS)
        ],
        "processes": [
            {
                "pid": pid,
                "cmdline": cmdlines[pid],
                "samples": sum(counts.values()),
                "top_category": counts.most_common(1)[0][0],
                "supervisor": pid in supervisors,
            }
            for pid, counts in sorted(by_process.items(), key=lambda kv: -sum(kv[1].values()))
            if pid in cmdlines
        ],
        "threads": sorted(threads.values(), key=lambda t: -t["samples"]),
    }


def _count_thread(
    threads: dict[int, dict[str, Any]], stack: Stack, pid: int, category: str, reason: str
) -> None:
    """Add one record to its thread's counts (py-spy --threads)."""
    tid = stack.thread
    assert tid is not None
    row = threads.get(tid)
    if row is None:
        row = threads[tid] = {
            "tid": tid,
            "pid": pid or tid,  # without --subprocesses the main thread's id is the pid
            "name": stack.thread_name,
            "samples": 0,
            "categories": {},
            "db_waits": 0,
            "net_waits": 0,
            "gil_waits": 0,
        }
    row["name"] = row["name"] or stack.thread_name
    row["samples"] += stack.count
    row["categories"][category] = row["categories"].get(category, 0) + stack.count
    if reason == DB_WAIT:
        row["db_waits"] += stack.count
    elif reason == NET_WAIT:
        row["net_waits"] += stack.count
    elif reason == GIL_WAIT:
        row["gil_waits"] += stack.count


def _supervisors(
    kept: dict[int, Counter[str]], startup: Counter[int], parents: set[int]
) -> set[int]:
    """Processes that waited, start-up aside, while another process of the tree worked."""
    shares: dict[int, tuple[float, int]] = {}  # pid -> (waiting share, busy samples)
    for pid, counts in kept.items():
        core = sum(counts.values()) - startup[pid]
        if core > 0:
            waiting = counts["waiting or idle"]
            shares[pid] = (waiting / core, core - waiting)
    busiest = max((busy for _, busy in shares.values()), default=0)
    idle = {
        pid
        for pid, (waiting, busy) in shares.items()
        if waiting >= (PARENT_WAITING if pid in parents else SUPERVISOR_WAITING)
        and busy < SUPERVISOR_BUSY * busiest
    }
    return idle if len(idle) < len(shares) else set()
