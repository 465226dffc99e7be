"""Parallel claims: judged at the claim's worker count, or projected to it.

A machine with fewer cores than the claim's workers cannot show the claim directly;
the measured points (those within the cores, and past them only when one worker left
the CPU mostly idle) are fitted with Amdahl's law, and with the USL when there are
enough points, and the projection to the claim's worker count decides: "PASS
(projected)" / "FAIL (projected)", or NOT APPLICABLE when it straddles the claim. A
slowdown within the cores fails here and now; pairs measured on a busy machine are no
evidence.
"""

from __future__ import annotations

from perfopt.harness import stats
from perfopt.harness.claims import Comparison
from perfopt.harness.records import CellRecord, busy_machine
from perfopt.harness.verdicts import (
    FAIL,
    INCONCLUSIVE,
    MIXED,
    NA,
    PASS,
    PairResult,
    PartVerdict,
    part_from,
)


def parallel(part: Comparison, pairs: list[PairResult], own: list[PairResult]) -> PartVerdict:
    """A parallel claim: measured at the claim's worker count, or projected to it."""
    want = part.claim_workers or 0
    cores = own[0].variant.host.cores or 0
    at_claim = [p for p in own if p.workers == want]
    if at_claim and cores >= want:
        verdicts = {p.verdict for p in at_claim}
        verdict = verdicts.pop() if len(verdicts) == 1 else MIXED
        return part_from(part, verdict, at_claim, pairs)
    # a slowdown within the cores fails here and now; past them it is only oversubscription
    slow = [
        p
        for p in own
        if (p.workers or 1) <= cores
        and p.ratio.enough
        and (p.ratio.high or 0.0) < 1.0
        and busy_note(p.base, p.variant) is None
    ]
    if slow:
        return part_from(
            part,
            FAIL,
            slow,
            pairs,
            extra=f"slower with {slow[0].workers} workers here and now, whatever a machine "
            "with more cores would give",
        )
    # too few runs, or a ratio the cores cannot produce: nothing to project from
    unsure = [
        p
        for p in own
        if (p.workers or 1) <= cores
        and (
            not p.ratio.enough
            or (p.bound and p.ratio.value > p.bound)
            or busy_note(p.base, p.variant) is not None
        )
    ]
    if unsure:
        return part_from(part, INCONCLUSIVE, unsure, pairs)
    # Points past the cores only say something when the work is not CPU-bound.
    points = [(p.workers or 1, p.ratio) for p in own if (p.workers or 1) <= cores or _waits(p.base)]
    amdahl = stats.fit_scaling(points, "amdahl")
    usl = stats.fit_scaling(points, "usl") if len(points) >= 2 else None
    fit = usl or amdahl
    if fit is None:
        return part_from(part, INCONCLUSIVE, own, pairs, extra="too few points to project")
    proj = stats.project(fit, want)
    low = part.speedup_low
    extra = f"this machine has {cores} cores; {proj.text()}"
    if usl is not None and amdahl is not None:
        extra += f"; Amdahl alone: {stats.project(amdahl, want).text()}"
    if proj.low >= low:
        verdict = PASS
    elif proj.high < low:
        verdict = FAIL
    elif any((p.ratio.low or 0.0) <= 1.0 for p in own):
        verdict = INCONCLUSIVE
        noisy = min(own, key=lambda p: p.ratio.low or 0.0)
        need = stats.runs_to_decide(noisy.ratio, 1.0)
        extra += (
            "; no speedup is established here yet (an interval reaches 1.0x), so the "
            "projection cannot decide"
            + (f": about {need} runs a side would establish one" if need else "")
        )
    else:
        verdict = NA
        extra += (
            f"; the projection straddles the claim's {low:g}x: a machine with at least "
            f"{want} cores decides"
        )
    result = part_from(part, verdict, own, pairs, extra=extra)
    return PartVerdict(
        result.label,
        result.verdict,
        result.reason,
        result.cells,
        projected=verdict in (PASS, FAIL),
        measured=f"{proj.value:.2f}x at {want} workers",
        interval=f"[{proj.low:.2f}, {proj.high:.2f}]",
        n=result.n,
        bound=result.bound,
        efficiency=result.efficiency,
        pairs=result.pairs,
        projection=proj,
    )


def busy_note(base: CellRecord, variant: CellRecord) -> str | None:
    """Why a parallel pair is no evidence because the machine was busy, or None."""
    busy = busy_machine(base, variant)
    if busy is None:
        return None
    return (
        f"{busy}: a parallel ratio measured against other jobs is no evidence; "
        "rerun on a quiet machine"
    )


def _waits(base: CellRecord) -> bool:
    """Whether one worker left the CPU mostly idle (so more workers than cores can help)."""
    used = base.cpu_cores_used
    return used is not None and used < 0.5
