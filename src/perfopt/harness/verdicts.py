"""Verdict records: a judged pair, a judged part of a target, a target's verdict.

Plain typed records and their wording (`part_from` words a part's verdict from the pairs
that decide it); `perfopt.harness.targets` and `parallel_verdict` make them and the
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


def part_from(
    part: Comparison,
    verdict: str,
    deciding: Sequence[PairResult],
    pairs: Sequence[PairResult],
    extra: str = "",
) -> PartVerdict:
    """A part's verdict from the pairs that decide it, the others shown beside them."""
    lead = max(deciding, key=lambda p: (p.workers or 0, p.ratio.n))
    others = [p for p in pairs if p not in deciding]
    reason = "; ".join(
        f"{pair_name(part, p)}: {measured(part, p.ratio)} ("
        + (p.note if p.verdict == POINT else f"{p.verdict}: {p.note}")
        + ")"
        for p in deciding
    )
    if lead.bound is not None:
        eff = lead.ratio.value / lead.bound
        reason += (
            f"; with {lead.workers} workers on {lead.variant.host.cores} cores the best "
            f"possible speedup is {lead.bound:g}x (efficiency {100 * eff:.0f}%)"
        )
    if extra:
        reason += f"; {extra}"
    if others:
        reason += "; not the claim's configuration, shown only: " + pairs_text(part, others)
    claim = f" (claim {part.claim_text()})"
    return PartVerdict(
        part.label,
        verdict,
        reason + claim,
        pair_cells(deciding),
        measured=measured(part, lead.ratio, with_interval=False),
        interval=interval(part, lead.ratio),
        n=f"{lead.ratio.n_base}/{lead.ratio.n_variant}",
        bound=lead.bound,
        efficiency=None if lead.bound is None else lead.ratio.value / lead.bound,
        pairs=tuple(pairs),
    )


def pair_cells(pairs: Sequence[PairResult]) -> tuple[str, ...]:
    """The ids of the cells the pairs compare, sorted."""
    return tuple(sorted({c for p in pairs for c in (p.base.cell_id, p.variant.cell_id)}))
