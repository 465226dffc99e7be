"""Plain-text rendering of a profile: the views, the verdict and what the views cost."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from perfopt.profiling._rules import STARTUP_REASONS
from perfopt.profiling._verdict import verdict_text


def _mib(n: float | None) -> str:
    return "-" if n is None else f"{n / 2**20:.1f} MiB"


def format_psutil(view: Mapping[str, Any]) -> list[str]:
    """Lines for the psutil view: totals, then one line per process."""
    iowait = view.get("iowait_s")
    lines = [
        "psutil (process tree, {hz:g} Hz, {samples} samples)".format(**view),
        f"  wall {view['wall_s']:.2f} s; CPU user {view['cpu_user_s']:.2f} s, "
        f"system {view['cpu_system_s']:.2f} s; {view['cpu_utilization_cores']:.2f} cores busy "
        f"of {view['cores_available']} ({view['utilization_pct_of_available']:.0f}%)",
        f"  iowait {'n/a' if iowait is None else f'{iowait:.2f} s'} (system-wide); "
        f"read {_mib(view['read_bytes'])}, written {_mib(view['write_bytes'])}; "
        f"context switches {view['ctx_switches_voluntary']} voluntary, "
        f"{view['ctx_switches_involuntary']} involuntary",
        f"  peak RSS {_mib(view['peak_rss_bytes'])} (tree); max threads {view['max_threads']}",
    ]
    for proc in view.get("processes", []):
        lines.append(
            f"  pid {proc['pid']:>7} {proc['cpu_user_s'] + proc['cpu_system_s']:7.2f} s CPU "
            f"{proc['cpu_cores']:5.2f} cores  rss {_mib(proc['peak_rss_bytes']):>10}  "
            f"threads {proc['max_threads']:>3}  {proc['cmdline'][:70]}"
        )
    return lines


def format_pyspy(view: Mapping[str, Any]) -> list[str]:
    """Lines for the py-spy view: category shares and top functions."""
    if not view.get("available"):
        return [f"py-spy: not available ({view.get('reason')})"]
    lines = [f"py-spy ({view.get('rate')} Hz, {view['samples']} samples, idle included)"]
    native = (
        "native frames" if view.get("native") else f"no native frames: {view.get('native_reason')}"
    )
    lines[0] = lines[0][:-1] + f", {native})"
    reasons = view.get("reasons") or view.get("other_reasons") or {}
    for category, share in sorted(view["categories"].items(), key=lambda kv: -kv[1]):
        if share > 0:
            lines.append(f"  {100 * share:5.1f}%  {category}")
        if share > 0 and category in ("start-up", "unclassified", "other"):
            for reason, part in reasons.items():
                if _reason_of(reason) == category:
                    lines.append(f"         {100 * part:5.1f}%  {reason}")
    for proc in view.get("processes", []):
        if proc.get("supervisor"):
            lines.append(
                f"  pid {proc['pid']} only waited while others worked (a supervisor): "
                f"left out of the verdict  {proc['cmdline'][:60]}"
            )
    lines.append("  top functions (innermost Python frame):")
    for fn in view.get("top_functions", [])[:8]:
        lines.append(
            f"  {100 * fn['share']:5.1f}%  {fn['function']} ({fn['file']})  [{fn['category']}]"
        )
    return lines


def _reason_of(reason: str) -> str:
    return "start-up" if reason in STARTUP_REASONS else "unclassified"


def format_thread_states(view: Mapping[str, Any] | None) -> list[str]:
    """Lines for the kernel's view: time by thread state, and the demand for cores."""
    if not view or not view.get("available"):
        return [f"thread states: not available ({(view or {}).get('reason')})"]
    secs = view.get("seconds") or {}
    total = sum(v for k, v in secs.items() if k not in ("stopped", "unknown")) or 1.0
    how = "schedstat" if view.get("schedstat") else "stat ticks"
    lines = [
        f"thread states (/proc, {view['ticks']} ticks, CPU and run-queue time from {how})",
        f"  {view['runnable_mean']:.2f} threads running or runnable on average "
        f"({view['running_mean']:.2f} running) on {view['cores']} cores",
        "  "
        + ", ".join(
            f"{k} {100 * v / total:.0f}%"
            for k, v in sorted(secs.items(), key=lambda kv: -kv[1])
            if k not in ("stopped", "unknown") and v / total >= 0.005
        ),
    ]
    for proc in view.get("processes") or []:
        pools = f"  pools: {', '.join(proc['pools'])}" if proc.get("pools") else ""
        idle = "  (only waited)" if proc.get("all_idle") else ""
        lines.append(
            f"  pid {proc['pid']:>7} {proc.get('exe') or proc['name']:<12} "
            f"threads {proc['max_threads']:>3}  runnable {proc['runnable_mean']:.2f}{pools}{idle}"
        )
    return lines


def format_overhead(view: Mapping[str, Any] | None) -> list[str]:
    """One line: what the sampler and py-spy cost, as shares of the target's CPU."""
    if not view:
        return []

    def part(name: str, cpu: float | None, share: float | None) -> str:
        if cpu is None:
            return f"{name} -"
        pct = "" if share is None else f" = {100 * share:.1f}% of the target's CPU"
        return f"{name} {cpu:.3f} s CPU{pct}"

    spy = "py-spy --native" if view.get("pyspy_native") else "py-spy"
    target = view.get("target_cpu_s")
    return [
        f"views' cost (target used {'?' if target is None else f'{target:.2f}'} s CPU): "
        + part(
            "sampler (psutil + thread states)", view.get("sampler_cpu_s"), view.get("sampler_share")
        )
        + "; "
        + part(spy, view.get("pyspy_cpu_s"), view.get("pyspy_share"))
    ]


def format_oversubscription(view: Mapping[str, Any]) -> list[str]:
    """Lines for the oversubscription check."""
    state = "OVERSUBSCRIBED" if view["oversubscribed"] else "ok"
    return [f"threads vs cores: {state}: {view['reason']}"]


def format_profile(profile: Mapping[str, Any]) -> str:
    """Render a profile_command result as text: the views, the verdict, their cost."""
    lines = [f"command: {' '.join(profile['command'])}"]
    status = "timed out" if profile.get("timed_out") else f"exit code {profile['exit_code']}"
    lines.append(f"{status}, wall {profile['wall_s']:.2f} s")
    lines += ["", *format_psutil(profile["psutil"])]
    lines += ["", *format_thread_states(profile["psutil"].get("thread_states"))]
    lines += ["", *format_pyspy(profile["pyspy"]), ""]
    lines += format_oversubscription(profile["oversubscription"])
    lines += format_overhead(profile.get("overhead"))
    lines += ["", f"verdict: {verdict_text(profile['verdict'])}"]
    return "\n".join(lines)
