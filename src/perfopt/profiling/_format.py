"""Plain-text rendering of a profile: the three views and the verdict."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


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
    for category, share in sorted(view["categories"].items(), key=lambda kv: -kv[1]):
        if share > 0:
            lines.append(f"  {100 * share:5.1f}%  {category}")
        if category == "other":
            for reason, part in (view.get("other_reasons") or {}).items():
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


def format_oversubscription(view: Mapping[str, Any]) -> list[str]:
    """Lines for the oversubscription check."""
    state = "OVERSUBSCRIBED" if view["oversubscribed"] else "ok"
    return [f"threads vs cores: {state}: {view['reason']}"]


def format_profile(profile: Mapping[str, Any]) -> str:
    """Render a profile_command result as text: three views, then the verdict."""
    lines = [f"command: {' '.join(profile['command'])}"]
    status = "timed out" if profile.get("timed_out") else f"exit code {profile['exit_code']}"
    lines.append(f"{status}, wall {profile['wall_s']:.2f} s")
    lines += ["", *format_psutil(profile["psutil"]), "", *format_pyspy(profile["pyspy"]), ""]
    lines += format_oversubscription(profile["oversubscription"])
    lines += ["", f"verdict: {profile['verdict']}"]
    return "\n".join(lines)
