"""The views' own overhead judged against its targets: what watching may cost a command.

The psutil sampler may cost the command it watches at most 2% CPU, py-spy at most 10%.
The CPU cost (CPU the view used over the command's CPU) decides, being the stable
measure; the wall-time change is shown beside it, marked as noise when it lies within
the spread of the bare runs.
"""

from __future__ import annotations

from dataclasses import dataclass

from perfopt.harness.verdicts import FAIL, PASS
from perfopt.harness.view_records import OverheadRecord

# The targets of the issue: what each view may cost the command it watches.
OVERHEAD_TARGETS = {"psutil": 0.02, "pyspy": 0.10}


@dataclass(frozen=True)
class OverheadVerdict:
    """One view's measured cost against its target."""

    view: str
    name: str  # 'psutil sampler (10 Hz)'
    cpu_cost: float | None
    target: float
    verdict: str  # PASS, FAIL, or "-" when the cost was not measured
    median_s: float | None
    wall_change: str  # '+1.2%', with '(within the bare runs' spread: noise)' when it is


def judge_overhead(o: OverheadRecord) -> list[OverheadVerdict]:
    """Each view's verdict, in the order of OVERHEAD_TARGETS (empty when not measured)."""
    if not o.available:
        return []
    names = {
        "psutil": f"psutil sampler ({_or_unknown(o.hz)} Hz)",
        "pyspy": f"py-spy ({_or_unknown(o.rate)} Hz)",
    }
    out = []
    for view, target in OVERHEAD_TARGETS.items():
        cost = o.cpu_cost.get(view)
        verdict = "-" if cost is None else (PASS if cost <= target else FAIL)
        out.append(
            OverheadVerdict(
                view,
                names[view],
                cost,
                target,
                verdict,
                o.median_s.get(view),
                _wall_change(o, view),
            )
        )
    return out


def _wall_change(o: OverheadRecord, view: str) -> str:
    change = o.wall_change.get(view)
    if change is None:
        return "-"
    noise = o.bare_spread()
    text = f"{100 * change:+.1f}%"
    if noise is not None and abs(change) <= noise:
        return f"{text} (within the bare runs' spread: noise)"
    return text


def _or_unknown(value: object) -> str:
    return "?" if value is None else str(value)
