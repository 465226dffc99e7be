"""Put the kernel's view and py-spy's together: seconds of the working threads by kind.

The thread states (`_tstates`) are the authority for on-CPU vs blocked, and for what a
blocked thread waited on; py-spy only says which code the on-CPU time ran, thread by
thread (its `--threads` ids are the kernel's thread ids). Threads py-spy cannot see are
native: a BLAS/OpenMP/torch pool thread inside a Python process, or any thread of a
non-Python program. A thread that mostly sleeps is left out of the working view (an idle
helper; a process whose threads all sleep is a supervisor), unless nothing else works:
a process's main thread when it waits for 80% of its time, start-up aside (a parent
joining its workers), any other thread at 60% (a pool thread between bursts). A thread
waiting for the GIL wants to run Python: that sleep counts as cpu-python.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from typing import Any

# The kinds time can be in (the verdict adds oversubscribed, mixed and failed).
TIME_KINDS = (
    "cpu-python",
    "cpu-native",
    "io-disk",
    "io-database",
    "io-network",
    "waiting",
    "start-up",
    "unclassified",
)
CATEGORY_KIND = {
    "Python compute": "cpu-python",
    "IPC and pickling": "cpu-python",
    "numeric compute": "cpu-native",
    "database IO": "io-database",
    "Optuna storage": "io-database",
    "file IO": "io-disk",
    "network IO": "io-network",
    "start-up": "start-up",
    "unclassified": "unclassified",
    "other": "unclassified",  # results written before the start-up/unclassified split
}
_BLOCKED_KIND = {"disk": "io-disk", "network": "io-network", "pipe": "waiting", "sleep": "waiting"}
# A thread whose samples are this much database code waits on the database when blocked.
DB_THREAD = 0.5
MAIN_IDLE = 0.8
HELPER_IDLE = 0.6


def _code_split(row: Mapping[str, Any] | None) -> dict[str, float]:
    """How a thread's on-CPU time splits over kinds, from its py-spy samples."""
    if not row:
        return {}
    cats = {c: n for c, n in (row.get("categories") or {}).items() if c != "waiting or idle"}
    total = sum(cats.values())
    if not total:
        return {"unclassified": 1.0}  # it ran, yet every sample found it waiting
    split: Counter[str] = Counter()
    for c, n in cats.items():
        split[CATEGORY_KIND.get(c, "unclassified")] += n / total
    return dict(split)


def _thread_kinds(
    t: Mapping[str, Any], row: Mapping[str, Any] | None, on_cpu_kind: str
) -> Counter[str]:
    """Seconds by kind of one thread of the thread-state view."""
    out: Counter[str] = Counter()
    on = float(t.get("cpu_s", 0.0)) + float(t.get("runqueue_s", 0.0))
    split = _code_split(row) or {on_cpu_kind: 1.0}
    for kind, share in split.items():
        out[kind] += on * share
    blocked = {c: float(t.get(f"{c}_s", 0.0)) for c in _BLOCKED_KIND}
    db = net = gil = waits = 0
    samples = 1
    if row:
        db, net = int(row.get("db_waits", 0)), int(row.get("net_waits", 0))
        gil = int(row.get("gil_waits", 0))
        waits = int((row.get("categories") or {}).get("waiting or idle", 0))
        samples = max(int(row.get("samples", 0)), 1)
        db_code = sum(
            n
            for c, n in (row.get("categories") or {}).items()
            if CATEGORY_KIND.get(c) == "io-database"
        )
        if db_code >= DB_THREAD * samples:  # a database client's IO is database IO
            out["io-database"] += blocked.pop("disk") + blocked.pop("network")
    asleep = blocked.pop("sleep", 0.0) + blocked.pop("pipe", 0.0)
    if db + net:  # stacks that show the sleep was on a database or a socket
        whole = db + net + waits
        out["io-database"] += asleep * db / whole
        out["io-network"] += asleep * net / whole
        asleep *= waits / whole
    if gil and waits:  # of its waits, those for the GIL want the CPU for Python
        out["cpu-python"] += asleep * min(gil / waits, 1.0)
        asleep *= 1.0 - min(gil / waits, 1.0)
    out["waiting"] += asleep
    for c, s in blocked.items():
        out[_BLOCKED_KIND[c]] += s
    return out


def attribute(thread_states: Mapping[str, Any], pyspy: Mapping[str, Any] | None) -> dict[str, Any]:
    """Seconds and shares by kind of the working threads, and what was left out.

    Returns {seconds: {kind: s}, shares: {kind: 0..1}, join: how py-spy's samples were
    matched to threads ("thread", "tree" or "none"), working_threads, idle_threads,
    supervisors: [{pid, name}]}.
    """
    spy_ok = bool(pyspy and pyspy.get("available", True) and pyspy.get("samples"))
    rows = {int(r["tid"]): r for r in (pyspy or {}).get("threads") or []} if spy_ok else {}
    spy_pids = {int(r["pid"]) for r in rows.values()}
    threads = thread_states.get("threads") or []
    matched = any(int(t["tid"]) in rows for t in threads)
    join = "thread" if matched else "tree" if spy_ok else "none"
    tree_row = None
    if join == "tree":  # py-spy watched another run: its shares stand for every thread
        shares = (pyspy or {}).get("working_categories") or (pyspy or {}).get("categories") or {}
        tree_row = {"categories": {c: round(1000 * s) for c, s in shares.items()}, "samples": 1000}
    procs = {int(p["pid"]): p for p in thread_states.get("processes") or []}
    per_thread: list[tuple[Mapping[str, Any], Counter[str]]] = []
    for t in threads:
        pid = int(t["pid"])
        proc = procs.get(pid, {})
        row = rows.get(int(t["tid"])) if join == "thread" else tree_row
        if not proc.get("python", True):
            on_cpu, row = "cpu-native", None  # a non-Python program: native code
        elif join == "thread" and pid in spy_pids:
            on_cpu = "cpu-native"  # a thread py-spy does not see holds no Python frames
        else:
            on_cpu = "unclassified"  # a Python process py-spy did not sample
        per_thread.append((t, _thread_kinds(t, row, on_cpu)))
    idle = {id(t) for t, kinds in per_thread if _idle(t, kinds)}
    working = [(t, k) for t, k in per_thread if id(t) not in idle]
    if not any(sum(k.values()) > 0 for _, k in working):
        working = per_thread  # nothing works: the waiting is the answer
    seconds: Counter[str] = Counter()
    for _, kinds in working:
        seconds.update(kinds)
    total = sum(seconds.values())
    working_pids = {int(t["pid"]) for t, _ in working}
    supervisors = [
        {"pid": pid, "name": p.get("name")}
        for pid, p in procs.items()
        if pid not in working_pids and any(int(t["pid"]) == pid for t, _ in per_thread)
    ]
    return {
        "seconds": {k: round(seconds[k], 3) for k in TIME_KINDS if seconds[k] > 0},
        "shares": {
            k: round(seconds[k] / total, 4)
            for k in sorted(TIME_KINDS, key=lambda k: -seconds[k])
            if total and seconds[k] / total >= 0.005
        },
        "join": join,
        "working_threads": len(working),
        "idle_threads": len(per_thread) - len(working),
        "supervisors": supervisors,
    }


def _idle(t: Mapping[str, Any], kinds: Counter[str]) -> bool:
    """Waiting most of its time, start-up aside (see the module docstring)."""
    total = sum(kinds.values()) - kinds["start-up"]
    if total <= 0:
        return bool(t.get("idle"))
    share = kinds["waiting"] / total
    if t.get("idle") and share >= 0.5:  # the kernel saw it asleep at most readings
        return True
    return share >= (MAIN_IDLE if int(t["tid"]) == int(t["pid"]) else HELPER_IDLE)
