"""The source teams' claims as data, judged on repeats with confidence intervals.

A claim is judged on the pair of cells that its own configuration names (the claim's
own pair: the seed team's storage and data access, the loader at float32, ...); the
other comparable pairs are shown beside it and never decide. Outcomes:

- PASS: the interval's lower end clears the claim;
- FAIL: the interval's upper end is under the claim, or the variant is significantly
  slower than the base (a slowdown fails whatever the core count);
- INCONCLUSIVE: the interval straddles the claim, or fewer than 3 runs a side (the
  verdict says about how many runs would decide), or a parallel ratio above what the
  cores allow (noise);
- NOT APPLICABLE: the machine cannot show the claim at all (no GPU for a CUDA claim; a
  parallel claim at more workers than cores whose projection cannot decide);
- MIXED: the claim's own pairs disagree.

A parallel claim at more workers than this machine has cores is projected from the
measured points with Amdahl's law (and the USL when there are enough points): "PASS
(projected)" / "FAIL (projected)". Pairs from different hosts, commits or core counts
are never compared: a results file mixing them is judged per host. The projection
lives in `parallel_verdict`; the views' own overhead is judged in `overhead_verdict`.

The claims themselves, with what each team measured and on what, are described in
docs/claims.md.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from perfopt.harness import stats
from perfopt.harness.claims import AMP_CPU_NOTE, TARGETS, Comparison, Target, Threshold
from perfopt.harness.parallel_verdict import busy_note, parallel
from perfopt.harness.records import CellRecord, HostKey
from perfopt.harness.verdicts import (
    FAIL,
    INCONCLUSIVE,
    MIXED,
    NA,
    PASS,
    POINT,
    SEVERITY,
    PairResult,
    PartVerdict,
    TargetVerdict,
    pair_cells,
    pairs_text,
    part_from,
)

__all__ = [
    "FAIL",
    "INCONCLUSIVE",
    "MIXED",
    "NA",
    "PASS",
    "TARGETS",
    "Comparison",
    "PairResult",
    "PartVerdict",
    "Target",
    "TargetVerdict",
    "Threshold",
    "evaluate",
    "evaluate_all",
    "judged_pairs",
]


def evaluate_all(
    records: Sequence[CellRecord], targets: Sequence[Target] = TARGETS
) -> list[TargetVerdict]:
    """Judge every target on each host's ok cells (hosts are never mixed)."""
    hosts = _by_host(records)
    out = []
    for target in targets:
        for host, members in hosts.items():
            out.append(evaluate(target, members, host if len(hosts) > 1 else None))
    return out


def evaluate(
    target: Target, records: Sequence[CellRecord], host: HostKey | None = None
) -> TargetVerdict:
    """Judge one target on cells from one host."""
    parts = tuple(
        _threshold(p, records) if isinstance(p, Threshold) else _compare(p, records)
        for p in target.parts
    )
    verdict = next(v for v in SEVERITY if any(p.verdict == v for p in parts))
    projected = any(p.projected and p.verdict == verdict for p in parts)
    return TargetVerdict(target.id, target.source, target.claim, verdict, projected, parts, host)


def judged_pairs(verdicts: Sequence[TargetVerdict]) -> list[PairResult]:
    """The pairs that decide the verdicts (what an adaptive run narrows)."""
    return [pr for v in verdicts for p in v.parts for pr in p.pairs if pr.own]


# ---------------------------------------------------------------- thresholds


def _threshold(part: Threshold, records: Sequence[CellRecord]) -> PartVerdict:
    label = f"{part.workload} {part.metric} < {part.limit:g}"
    cands = [(r, r.values(part.metric)) for r in _ok(records, part.workload, part.select)]
    cands = [(r, v) for r, v in cands if v]
    if not cands:
        where = " ".join(f"{k}={v}" for k, v in part.select.items())
        return PartVerdict(label, INCONCLUSIVE, f"no ok {part.workload} cell with {where}", ())
    best, values = min(cands, key=lambda rv: _median(rv[1]))
    level = stats.level(values)
    cells = [best.cell_id]
    text = f"fastest {best.cell_id} ({best.label}): {level.text('{:.3g} s')}"
    if part.name_also:
        also = [
            (r, v) for r, v in cands if all(r.params.get(k) == w for k, w in part.name_also.items())
        ]
        if also:
            r2, v2 = min(also, key=lambda rv: _median(rv[1]))
            if r2.cell_id != best.cell_id:
                cells.append(r2.cell_id)
            named = " ".join(f"{k}={v}" for k, v in part.name_also.items())
            text += f"; {named} {r2.cell_id}: {stats.level(v2).text('{:.3g} s')}"
    if not level.enough:
        verdict = INCONCLUSIVE
        text += f"; {level.n} run(s): fewer than {stats.MIN_RUNS} decide nothing"
    elif level.high is not None and level.high < part.limit:
        verdict = PASS
        text += f" (< {part.limit:g} s)"
    elif level.low is not None and level.low >= part.limit:
        verdict = FAIL
        text += f" (>= {part.limit:g} s)"
    else:
        verdict = INCONCLUSIVE
        text += f" (the interval straddles {part.limit:g} s)"
    return PartVerdict(
        label,
        verdict,
        text,
        tuple(cells),
        measured=f"{level.value:.3g} s",
        interval=level.interval_text("{:.3g} s"),
        n=str(level.n),
    )


# ---------------------------------------------------------------- comparisons


def _compare(part: Comparison, records: Sequence[CellRecord]) -> PartVerdict:
    cands = [r for r in _ok(records, part.workload, part.select) if r.values(part.metric)]
    if part.gpu_only:
        gpu = [r for r in cands if r.on_gpu]
        if not gpu:
            return _needs_gpu(part, cands)
        cands = gpu
    pairs = _pairs(part, cands)
    if not pairs:
        have = sorted({repr(r.params.get(part.axis)) for r in cands})
        return PartVerdict(
            part.label,
            INCONCLUSIVE,
            f"no comparable ok {part.workload} cells: needs {part.axis} in "
            f"{list(part.base)} and {list(part.variants) or 'another value'} with the other "
            f"params equal (found {part.axis} values: {', '.join(have) or 'none'})",
            (),
        )
    own = [p for p in pairs if p.own]
    preferred = [p for p in own if _matches(p.variant, part.prefer)]
    if part.prefer and preferred:
        own = preferred
        pairs = [p if p in preferred else _not_own(p) for p in pairs]
    if not own:
        wanted = " ".join(f"{k}={v}" for k, v in part.own.items())
        return PartVerdict(
            part.label,
            INCONCLUSIVE,
            f"the claim's own configuration ({wanted}) was not run; other pairs: "
            + pairs_text(part, pairs),
            pair_cells(pairs),
            pairs=tuple(pairs),
        )
    if part.workers_param and part.claim_workers:
        return parallel(part, pairs, own)
    verdicts = {p.verdict for p in own}
    verdict = verdicts.pop() if len(verdicts) == 1 else MIXED
    return part_from(part, verdict, own, pairs)


def _pairs(part: Comparison, cands: Sequence[CellRecord]) -> list[PairResult]:
    ignore = {part.axis, *part.free}

    def key(r: CellRecord) -> tuple:
        return tuple(sorted((k, repr(v)) for k, v in r.params.items() if k not in ignore))

    bases: dict[tuple, CellRecord] = {}
    for r in cands:
        if r.params.get(part.axis) in part.base:
            bases.setdefault(key(r), r)
    out = []
    for r in cands:
        value = r.params.get(part.axis)
        if value in part.base or (part.variants and value not in part.variants):
            continue
        base = bases.get(key(r))
        if base is None:
            continue
        workers = _workers(part, r)
        if part.workers_param and (workers is None or workers < 2):
            continue
        ratio = stats.ratio(base.values(part.metric), r.values(part.metric))
        if not part.higher_is_better:
            ratio = ratio.inverted()  # times: base / variant is the speedup
        bound = _bound(workers, r) if part.workers_param else None
        busy = busy_note(base, r) if part.workers_param else None
        if busy is not None:
            verdict, note = INCONCLUSIVE, busy
        elif part.claim_workers and workers != part.claim_workers:
            verdict, note = _point(ratio, bound)
        else:
            verdict, note = _judge(
                ratio, part.speedup_low, part.speedup_high, bound, part.claim_text()
            )
        own = _matches(r, part.own) and _matches(
            base, {k: v for k, v in part.own.items() if k != part.axis}
        )
        out.append(PairResult(base, r, ratio, verdict, note, own, workers, bound))
    return out


def _point(r: stats.Ratio, bound: float | None) -> tuple[str, str]:
    """A pair at another worker count than the claim's: evidence for the fit, or not."""
    if not r.enough:
        return INCONCLUSIVE, f"{r.n} run(s) on the smaller side: too few for the scaling fit"
    assert r.high is not None
    if r.high < 1.0:
        return FAIL, "significantly slower than the base"
    if bound is not None and r.value > bound:
        return INCONCLUSIVE, f"above the {bound:g}x the cores allow: noise, not evidence"
    return POINT, "a point of the scaling fit"


def _judge(
    r: stats.Ratio, low: float, high: float | None, bound: float | None, claim: str
) -> tuple[str, str]:
    """One pair's verdict against a claim (all as speedups) and why."""
    if not r.enough:
        return INCONCLUSIVE, (
            f"{r.n} run(s) on the smaller side: fewer than {stats.MIN_RUNS} a side decide "
            f"nothing (rerun with --repeats {stats.MIN_RUNS})"
        )
    assert r.low is not None and r.high is not None
    if r.high < 1.0:
        return FAIL, "significantly slower than the base"
    if bound is not None and r.value > bound:
        return INCONCLUSIVE, (
            f"above the {bound:g}x the cores allow: noise (something slowed the base), not "
            "evidence; rerun"
        )
    if r.low >= low:
        above = high is not None and r.low > high
        return PASS, "above the claim's upper end" if above else "the interval clears the claim"
    if r.high < low:
        return FAIL, "the interval lies under the claim"
    need = stats.runs_to_decide(r, low)
    more = (
        f"about {need} runs a side would decide at this spread"
        if need
        else f"no number of runs up to {stats.MAX_RUNS_HINT} a side would decide: the ratio sits on the claim"
    )
    return INCONCLUSIVE, f"the interval straddles the claim ({claim}); {more}"


def _needs_gpu(part: Comparison, cands: Sequence[CellRecord]) -> PartVerdict:
    pairs = _pairs(part, cands)
    note = AMP_CPU_NOTE
    if pairs:
        note += "; measured here on CPU: " + pairs_text(part, pairs)
    return PartVerdict(
        part.label, NA, note, pair_cells(pairs), pairs=tuple(_not_own(p) for p in pairs)
    )


# ---------------------------------------------------------------- helpers


def _by_host(records: Sequence[CellRecord]) -> dict[HostKey, list[CellRecord]]:
    groups: dict[HostKey, list[CellRecord]] = {}
    for r in records:
        groups.setdefault(r.host, []).append(r)
    return groups or {HostKey("?", "?", None): []}


def _ok(
    records: Sequence[CellRecord], workload: str, select: Mapping[str, Any]
) -> list[CellRecord]:
    return [r for r in records if r.workload == workload and r.ok and _matches(r, select)]


def _matches(r: CellRecord, want: Mapping[str, Any]) -> bool:
    """Params equal; "device" is the device the cell ran on ("auto" resolved)."""
    return all(
        r.device.split(":")[0] == v if k == "device" else r.params.get(k) == v
        for k, v in want.items()
    )


def _workers(part: Comparison, r: CellRecord) -> int | None:
    value = r.params.get(part.workers_param) if part.workers_param else None
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _bound(workers: int | None, r: CellRecord) -> float | None:
    cores = r.host.cores
    if workers is None or not cores:
        return None
    return float(min(workers, cores))


def _not_own(p: PairResult) -> PairResult:
    return PairResult(p.base, p.variant, p.ratio, p.verdict, p.note, False, p.workers, p.bound)


def _median(values: Sequence[float]) -> float:
    ordered = sorted(values)
    return ordered[(len(ordered) - 1) // 2]
