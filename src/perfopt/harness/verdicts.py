"""Verdict records: a judged pair, a judged part of a target, a target's verdict.

Plain typed records and their wording; `perfopt.harness.targets` makes them and the
report reads them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from perfopt.harness import stats
from perfopt.harness.claims import Comparison
from perfopt.harness.records import CellRecord, HostKey

PASS, FAIL, INCONCLUSIVE, NA, MIXED = "PASS", "FAIL", "INCONCLUSIVE", "NOT APPLICABLE", "MIXED"
POINT = "POINT"  # a pair at another worker count than the claim's: a point of the fit
# How verdicts combine: the first present wins.
SEVERITY = (FAIL, MIXED, INCONCLUSIVE, NA, PASS)


@dataclass(frozen=True)
class PairResult:
    """One comparable pair judged against a claim."""

    base: CellRecord
    variant: CellRecord
    ratio: stats.Ratio  # oriented so that > 1 means the variant is better
    verdict: str
    note: str
    own: bool
    workers: int | None = None
    bound: float | None = None


@dataclass(frozen=True)
class PartVerdict:
    """A part of a target (one comparison or threshold) and how it was decided."""

    label: str
    verdict: str
    reason: str
    cells: tuple[str, ...]
    projected: bool = False
    measured: str = "-"
    interval: str = "-"
    n: str = "-"
    bound: float | None = None
    efficiency: float | None = None
    pairs: tuple[PairResult, ...] = ()
    projection: stats.Projection | None = None


@dataclass(frozen=True)
class TargetVerdict:
    """A target's verdict on one host's cells."""

    id: str
    source: str
    claim: str
    verdict: str
    projected: bool
    parts: tuple[PartVerdict, ...]
    host: HostKey | None

    @property
    def label(self) -> str:
        """'PASS', 'FAIL (projected)' ..."""
        return f"{self.verdict} (projected)" if self.projected else self.verdict

    @property
    def cells(self) -> list[str]:
        """Every cell a part used, sorted."""
        return sorted({c for p in self.parts for c in p.cells})

    @property
    def reason(self) -> str:
        """The parts' reasons in one text."""
        if len(self.parts) == 1:
            return self.parts[0].reason
        return "; ".join(f"{p.label}: {part_label(p)}: {p.reason}" for p in self.parts)


def pair_name(part: Comparison, p: PairResult) -> str:
    """'n_jobs=2 vs n_jobs=1 (storage=sqlite, on cpu) [cell ids]': what differs, what matters."""
    differ = sorted(
        k
        for k in set(p.variant.params) | set(p.base.params)
        if p.variant.params.get(k) != p.base.params.get(k)
    )
    shared = sorted(
        k
        for k in p.variant.scalar_params()
        if k not in differ
        and k != "device"
        and k in (*part.own, *part.prefer, "amp", "access", "storage")
    )
    context = [p.variant.params_text(shared)] if shared else []
    if "device" not in differ:
        context.append(f"on {p.variant.device}")  # the device it ran on, "auto" resolved
    text = f"{p.variant.params_text(differ)} vs {p.base.params_text(differ)}"
    return f"{text} ({', '.join(context)}) [{p.variant.cell_id} vs {p.base.cell_id}]"


def pairs_text(part: Comparison, pairs: Sequence[PairResult]) -> str:
    """Every pair named with its measured ratio, comma-separated."""
    return ", ".join(f"{pair_name(part, p)}: {measured(part, p.ratio)}" for p in pairs)


def measured(part: Comparison, r: stats.Ratio, with_interval: bool = True) -> str:
    """The ratio as the claim states it (a speedup, or a reduction in percent)."""
    if part.reduction:
        value = f"{100 * (1 - 1 / r.value):.1f}% less {part.metric}"
        if not with_interval:
            return value
        if r.low is None or r.high is None:
            return f"{value} (no interval, n={r.n_base}/{r.n_variant})"
        return f"{value} {interval(part, r)}, n={r.n_base}/{r.n_variant}"
    return r.text() if with_interval else f"{r.value:.2f}x"


def interval(part: Comparison, r: stats.Ratio) -> str:
    """The 95% interval in the claim's terms, or '-' without one."""
    if r.low is None or r.high is None:
        return "-"
    if part.reduction:
        return f"[{100 * (1 - 1 / r.low):.1f}%, {100 * (1 - 1 / r.high):.1f}%]"
    return f"[{r.low:.2f}, {r.high:.2f}]"


def part_label(p: PartVerdict) -> str:
    """'FAIL' or 'FAIL (projected)'."""
    return f"{p.verdict} (projected)" if p.projected else p.verdict
