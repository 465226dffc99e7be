"""The verdict: one value, {"kind": K, "text": ..., "shares": ...}, from the views.

Order of the questions: did the command fail (then no bound-ness verdict: "failed");
did more threads want a core than there were cores, averaged over the run
("oversubscribed", at any CPU use); else where the working threads' time went, by kind
(`_attribution`): one kind, or "mixed" when two or more kinds hold 30% each.
Without thread states (no /proc) the verdict falls back on py-spy's stacks and says so.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from perfopt.profiling._attribution import CATEGORY_KIND, TIME_KINDS, attribute

KINDS = (*TIME_KINDS, "oversubscribed", "mixed", "failed")
MIXED_SHARE = 0.30
# Oversubscribed: threads running or runnable, averaged over the run, above the cores by
# this much (half a core, or a quarter of the cores on bigger machines): a tree that
# fits its cores shows about the core count on a loaded machine, never more.
_OVER_ABS = 0.5
_OVER_REL = 0.25
_TEXT = {
    "cpu-python": "on a CPU in Python code",
    "cpu-native": (
        "on a CPU in native code (BLAS/OpenMP, numba, torch kernels or a non-Python program)"
    ),
    "io-disk": "in disk IO (file reads/writes, uninterruptible IO wait)",
    "io-database": "in a database client (running queries or waiting on the database)",
    "io-network": "in network IO (in or blocked on socket calls)",
    "waiting": "asleep (sleeps, locks, waits on children, pipes or events)",
    "start-up": "starting up (importing modules, interpreter start/exit)",
    "unclassified": "on a CPU in code no rule names (see the top functions)",
}


def oversubscribed_at(cores: int) -> float:
    """The mean number of runnable threads above which `cores` cores are oversubscribed."""
    return cores + max(_OVER_ABS, _OVER_REL * cores)


def _head(sampler: Mapping[str, Any]) -> str:
    if not sampler or "utilization_pct_of_available" not in sampler:
        return ""
    cores = int(sampler.get("cores_available", 1))
    pct = float(sampler.get("utilization_pct_of_available", 0.0))
    return f"CPU {pct:.0f}% of {cores} core{'s' if cores != 1 else ''}"


def _pct(share: float) -> str:
    return f"{100 * share:.0f}%"


def _pools(
    states: Mapping[str, Any],
    pools: Sequence[Mapping[str, Any]] | None,
    supervisors: Sequence[Mapping[str, Any]] = (),
) -> str:
    """Name who wanted the cores: processes x runnable threads, and the pools loaded."""
    left_out = {int(s["pid"]) for s in supervisors}
    busy = [
        p
        for p in states.get("processes") or []
        if p.get("runnable_mean", 0) >= 0.25 and int(p["pid"]) not in left_out
    ]
    groups: dict[tuple[str, tuple[str, ...]], list[Mapping[str, Any]]] = {}
    for p in busy:
        groups.setdefault(
            (p.get("exe") or p.get("name") or "?", tuple(p.get("pools") or ())), []
        ).append(p)
    parts = []
    for (exe, libs), members in sorted(groups.items(), key=lambda kv: -len(kv[1])):
        each = sum(p["runnable_mean"] for p in members) / len(members)
        text = f"{len(members)} x {exe} ({each:.1f} runnable threads each"
        caps = {k: v for p in members for k, v in (p.get("thread_caps") or {}).items()}
        if libs:
            cap_text = (
                ", ".join(f"{k}={v}" for k, v in sorted(caps.items())) or "no thread caps set"
            )
            text += f"; pools loaded: {', '.join(libs)}; {cap_text}"
        parts.append(text + ")")
    if pools:
        sizes = ", ".join(
            f"{p.get('internal_api') or p.get('user_api')} {p.get('num_threads')}" for p in pools
        )
        parts.append(f"the measured process's pools: {sizes}")
    return "; ".join(parts) or "no process held a runnable thread on average"


def _decide(shares: Mapping[str, float]) -> tuple[str, list[str]]:
    ranked = sorted(shares.items(), key=lambda kv: -kv[1])
    if not ranked:
        return "unclassified", []
    big = [k for k, s in ranked if s >= MIXED_SHARE]
    if len(big) >= 2:
        return "mixed", big
    if not big:  # nothing holds 30%: name the leading ones
        return "mixed", [k for k, _ in ranked[:3]]
    return big[0], big


def _spy_note(pyspy: Mapping[str, Any] | None, join: str) -> str:
    if not pyspy or not pyspy.get("available", True) or not pyspy.get("samples"):
        reason = (pyspy or {}).get("reason") or "off"
        return f"py-spy: no samples ({reason}): which code ran is unknown"
    notes = []
    if pyspy.get("native") is False:
        notes.append("py-spy without native frames")  # the py-spy view says why
    if join == "tree":
        notes.append("py-spy watched a separate run: its shares stand for every thread")
    return "; ".join(notes)


def verdict(
    sampler_summary: Mapping[str, Any] | None,
    pyspy_summary: Mapping[str, Any] | None,
    exit_code: int | None = None,
    timed_out: bool = False,
    pools: Sequence[Mapping[str, Any]] | None = None,
) -> dict[str, Any]:
    """Return {"kind", "text", "shares", ...}: where the run's time went, as a value.

    Thread states come from the py-spy summary when it carries its own run's
    ("thread_states", the matrix's separate py-spy run), else from the sampler summary.
    `pools`: the measured process's threadpoolctl pools, named when oversubscribed.
    """
    sampler = sampler_summary or {}
    head = _head(sampler)
    if timed_out or (exit_code is not None and exit_code != 0):
        why = "timed out" if timed_out else f"exited with status {exit_code}"
        return {
            "kind": "failed",
            "text": f"the command {why}: no bound-ness verdict",
            "shares": {},
        }
    spy = pyspy_summary or {}
    spy_ok = bool(spy.get("available", True) and spy.get("samples"))
    states = (spy_ok and spy.get("thread_states")) or sampler.get("thread_states") or {}
    if not states.get("available"):
        return _fallback(sampler, pyspy_summary, states.get("reason") or "not recorded", head)
    cores = int(states.get("cores") or sampler.get("cores_available") or 1)
    runnable = float(states.get("runnable_mean", 0.0))
    found = attribute(states, pyspy_summary)
    result: dict[str, Any] = {
        "kind": "",
        "text": "",
        "shares": found["shares"],
        "runnable_mean": round(runnable, 2),
        "cores": cores,
        "basis": "thread states"
        + (f" + py-spy ({found['join']} join)" if found["join"] != "none" else ""),
    }
    left = []
    if found["supervisors"]:
        left.append(
            "supervisors left out: "
            + ", ".join(f"{s['name']} {s['pid']}" for s in found["supervisors"][:4])
        )
    if found["idle_threads"]:
        left.append(f"{found['idle_threads']} idle thread(s) left out")
    tail = "; ".join(x for x in (head, *left, _spy_note(pyspy_summary, found["join"])) if x)
    if runnable > oversubscribed_at(cores):
        over = _pools(states, pools, found["supervisors"])
        result["kind"] = "oversubscribed"
        result["text"] = (
            f"on average {runnable:.1f} threads wanted a core on {cores} cores: {over}"
            + (f"; {tail}" if tail else "")
        )
        return result
    kind, parts = _decide(found["shares"])
    result["kind"] = kind
    shares = found["shares"]
    if kind == "mixed":
        body = ", ".join(f"{k} {_pct(shares[k])}" for k in parts)
        result["text"] = f"the working threads' time split: {body}"
    elif not shares:
        result["text"] = "no thread was seen working or waiting"
    elif kind == "unclassified" and found["join"] == "none":
        result["text"] = f"{_pct(shares[kind])} of the working threads' time on a CPU"
    else:
        result["text"] = f"{_pct(shares[kind])} of the working threads' time {_TEXT[kind]}"
    if tail:
        result["text"] += f" ({tail})"
    return result


def _fallback(
    sampler: Mapping[str, Any], pyspy: Mapping[str, Any] | None, reason: str, head: str
) -> dict[str, Any]:
    """The verdict from py-spy's working view alone, where thread states are missing."""
    note = f"thread states unavailable ({reason}): from py-spy stacks alone"
    runnable = float(sampler.get("runnable_mean") or 0.0)
    cores = int(sampler.get("cores_available") or 1)
    if runnable > oversubscribed_at(cores):
        return {
            "kind": "oversubscribed",
            "text": f"on average {runnable:.1f} processes were runnable on {cores} cores; {note}",
            "shares": {},
        }
    if not pyspy or not pyspy.get("available", True) or not pyspy.get("samples"):
        return {
            "kind": "unclassified",
            "text": f"no thread states and no py-spy samples ({head or 'no CPU figures'})",
            "shares": {},
        }
    working = pyspy.get("working_categories") or pyspy.get("categories") or {}
    shares: dict[str, float] = {}
    for category, share in working.items():
        kind = "waiting" if category == "waiting or idle" else CATEGORY_KIND.get(category)
        if kind and share > 0:
            shares[kind] = round(shares.get(kind, 0.0) + share, 4)
    kind, parts = _decide(shares)
    if kind == "mixed":
        text = "samples split: " + ", ".join(f"{k} {_pct(shares[k])}" for k in parts)
    else:
        text = f"{_pct(shares[kind])} of py-spy's samples {_TEXT[kind]}"
    tail = "; ".join(x for x in (head, note) if x)
    return {"kind": kind, "text": f"{text} ({tail})", "shares": shares}


def verdict_text(value: Any) -> str:
    """One line for a verdict: a value as "kind: text", an older result's string as is."""
    if isinstance(value, Mapping):
        return f"{value.get('kind', '?')}: {value.get('text', '')}"
    return "-" if value is None else str(value)
