"""The source teams' claims as data, judged on results: PASS, FAIL or NOT APPLICABLE.

A verdict always names the cells it used and, for parallel speedups, the bound the core
count puts on them ("machine has 2 cores: the best possible speedup is 2.0x"): a claim
whose lower end the machine cannot reach is NOT APPLICABLE, with the measured ratio and
the efficiency (measured / bound) shown, rather than a FAIL that blames the code.

Workloads feed targets through metric names (see `Comparison.metric`): "seconds" is the
cell's median wall time; anything else is a key of `Measurement.metrics`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

PASS, FAIL, NA = "PASS", "FAIL", "NOT APPLICABLE"

AMP_CPU_NOTE = (
    "needs a GPU: the claim is CUDA float16 with GradScaler; on a CPU, AMP is bfloat16 "
    "autocast, whose speed depends on the CPU's bf16 units (6-13x slower than float32 on "
    "an AMD Zen 1 without them, notes/measured-here.md), so a CPU ratio says nothing about it"
)


@dataclass(frozen=True)
class Threshold:
    """A metric of the best matching cell must stay below `limit`."""

    workload: str
    metric: str
    limit: float
    select: Mapping[str, Any] = field(default_factory=dict)
    name_also: Mapping[str, Any] | None = None  # a cell worth naming beside the best


@dataclass(frozen=True)
class Comparison:
    """metric(axis in variants) against metric(axis in base), other params equal."""

    label: str
    workload: str
    axis: str
    base: tuple[Any, ...]
    variants: tuple[Any, ...]
    metric: str
    higher_is_better: bool
    claim_low: float  # a speedup ratio, or a fraction when `reduction`
    claim_high: float | None = None
    select: Mapping[str, Any] = field(default_factory=dict)
    free: tuple[str, ...] = ()  # params allowed to differ between the two cells
    workers_param: str | None = None  # parallelism of the variant: the core bound applies
    min_workers: int = 0
    gpu_only: bool = False
    reduction: bool = False


@dataclass(frozen=True)
class Target:
    """One claim from a source document."""

    id: str
    source: str
    claim: str
    parts: tuple[Threshold | Comparison, ...]


TARGETS: tuple[Target, ...] = (
    Target(
        "backtest-180s",
        "004_528c884d8d049715.txt",
        "500 stocks x 3 years RSI backtest finishes in < 180 s (their baseline 345.76 s)",
        (
            Threshold(
                "backtest",
                "seconds",
                180.0,
                select={"tickers": 500, "days": 756},
                name_also={"engine": "reference", "access": "naive", "source": "sqlite"},
            ),
        ),
    ),
    Target(
        "trial-parallel-2-3x",
        "000_3a4c8f34cc01a197.txt",
        "trial-parallel with 2-4 workers on SQLite storage: 2-3x trials/s over 1 worker",
        (
            Comparison(
                "n_jobs 2-4 vs 1",
                "optimize",
                "n_jobs",
                (1,),
                (2, 3, 4),
                "trials_per_s",
                True,
                2.0,
                3.0,
                select={"storage": "sqlite", "mode": "trial"},
                workers_param="n_jobs",
            ),
        ),
    ),
    Target(
        "selfplay-parallel-2-3x",
        "002_d14bdd0b8f9939b3.txt",
        "parallel self-play 2-3x games/s over serial; batch 32 vs 8: 1.5-2x",
        (
            Comparison(
                "parallel vs serial",
                "selfplay",
                "parallel",
                ("serial",),
                ("process", "server"),
                "games_per_s",
                True,
                2.0,
                3.0,
                free=("workers",),
                workers_param="workers",
                min_workers=2,
            ),
            Comparison(
                "batch 32 vs 8",
                "selfplay",
                "mcts_batch_size",
                (8,),
                (32,),
                "games_per_s",
                True,
                1.5,
                2.0,
            ),
        ),
    ),
    Target(
        "chunk-loader-59.9",
        "003_b223624d646e2c98.txt",
        "chunk loading cuts epoch time by >= 59.9% vs per-sample loading",
        (
            Comparison(
                "chunk vs per-sample",
                "train",
                "loader",
                ("per-sample",),
                ("chunk",),
                "epoch_s",
                False,
                0.599,
                reduction=True,
            ),
        ),
    ),
    Target(
        "amp-2-3x",
        "003_b223624d646e2c98.txt",
        "AMP gives 2-3x on a GPU",
        (
            Comparison(
                "amp on vs off (CUDA)",
                "train",
                "amp",
                (False,),
                (True,),
                "epoch_s",
                False,
                2.0,
                3.0,
                gpu_only=True,
            ),
        ),
    ),
)


def evaluate_all(
    records: Sequence[Mapping[str, Any]], targets: Sequence[Target] = TARGETS
) -> list[dict[str, Any]]:
    """Judge every target on the ok cell lines of a results file."""
    return [evaluate(t, records) for t in targets]


def evaluate(target: Target, records: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """Judge one target; the verdict dict names its cells, bound and efficiency."""
    parts = [
        _threshold(p, records) if isinstance(p, Threshold) else _compare(p, records)
        for p in target.parts
    ]
    verdicts = [p["verdict"] for p in parts]
    overall = FAIL if FAIL in verdicts else NA if NA in verdicts else PASS
    single = len(parts) == 1
    cells = sorted({c for p in parts for c in p["cells"]})
    return {
        "id": target.id,
        "source": target.source,
        "claim": target.claim,
        "verdict": overall,
        "reason": parts[0]["reason"]
        if single
        else "; ".join(f"{p['label']}: {p['verdict']}: {p['reason']}" for p in parts),
        "measured": "; ".join(p["measured"] for p in parts if p["measured"]) or "-",
        "bound": next((p["bound"] for p in parts if p["bound"] is not None), None),
        "efficiency": next((p["efficiency"] for p in parts if p["efficiency"] is not None), None),
        "cells": cells,
        "parts": parts,
    }


def metric_value(record: Mapping[str, Any], metric: str) -> float | None:
    """The value of `metric` for a cell line: "seconds" is the median wall time."""
    if metric == "seconds":
        value = (record.get("timing") or {}).get("median_s")
    else:
        value = ((record.get("measurement") or {}).get("metrics") or {}).get(metric)
    return float(value) if isinstance(value, int | float) else None


def _ok(records: Sequence[Mapping[str, Any]], workload: str, select: Mapping[str, Any]) -> list:
    return [
        r
        for r in records
        if r.get("kind", "cell") == "cell"
        and r.get("workload") == workload
        and r.get("status") == "ok"
        and all(r.get("params", {}).get(k) == v for k, v in select.items())
    ]


def _part(label: str, verdict: str, reason: str, cells: list[str], **extra: Any) -> dict:
    return {
        "label": label,
        "verdict": verdict,
        "reason": reason,
        "cells": cells,
        "measured": extra.get("measured", ""),
        "bound": extra.get("bound"),
        "efficiency": extra.get("efficiency"),
    }


def _threshold(part: Threshold, records: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    label = f"{part.workload} {part.metric} < {part.limit:g}"
    where = " ".join(f"{k}={v}" for k, v in part.select.items())
    candidates = [
        (metric_value(r, part.metric), r) for r in _ok(records, part.workload, part.select)
    ]
    candidates = [(v, r) for v, r in candidates if v is not None]
    if not candidates:
        return _part(label, NA, f"no ok {part.workload} cell with {where} in these results", [])
    value, best = min(candidates, key=lambda vr: vr[0])
    cells = [best["cell_id"]]
    text = f"fastest {best['cell_id']} ({best.get('label', '')}): {value:.3f} s"
    if part.name_also:
        also = [
            (v, r)
            for v, r in candidates
            if all(r["params"].get(k) == want for k, want in part.name_also.items())
        ]
        if also:
            v2, r2 = min(also, key=lambda vr: vr[0])
            if r2["cell_id"] != best["cell_id"]:
                cells.append(r2["cell_id"])
            named = " ".join(f"{k}={v}" for k, v in part.name_also.items())
            text += f"; {named} {r2['cell_id']}: {v2:.3f} s"
    verdict = PASS if value < part.limit else FAIL
    comparison = "<" if verdict == PASS else ">="
    return _part(
        label, verdict, f"{text} ({comparison} {part.limit:g} s)", cells, measured=f"{value:.3f} s"
    )


def _cores(record: Mapping[str, Any]) -> int | None:
    env = record.get("environment") or {}
    cores = env.get("cores_available") or env.get("cores_logical")
    return int(cores) if cores else None


def _on_gpu(record: Mapping[str, Any]) -> bool:
    info = (record.get("measurement") or {}).get("info") or {}
    device = info.get("device", record.get("params", {}).get("device", ""))
    return str(device).startswith("cuda")


# A parallel speedup may beat workers/cores by this much before it is called noise
# (superlinear cache effects are small for these workloads).
BOUND_SLACK = 1.05


def _compare(part: Comparison, records: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    cands = [
        r
        for r in _ok(records, part.workload, part.select)
        if metric_value(r, part.metric) is not None
    ]
    cpu_cells = cands
    if part.gpu_only:
        cands = [r for r in cands if _on_gpu(r)]
    ignore = {part.axis, *part.free}

    def key(r: Mapping[str, Any]) -> tuple:
        return tuple(sorted((k, repr(v)) for k, v in r["params"].items() if k not in ignore))

    bases = {}
    for r in cands:
        if r["params"].get(part.axis) in part.base:
            bases.setdefault(key(r), r)
    pairs = []
    for r in cands:
        if r["params"].get(part.axis) not in part.variants:
            continue
        workers = r["params"].get(part.workers_param) if part.workers_param else None
        if part.min_workers and (not isinstance(workers, int) or workers < part.min_workers):
            continue
        base = bases.get(key(r))
        if base is not None:
            pairs.append((base, r, _ratio(part, base, r)))
    if not pairs:
        if part.gpu_only:
            note = AMP_CPU_NOTE
            cpu_pairs = _cpu_ratio(part, cpu_cells, key)
            if cpu_pairs:
                note += f"; measured here on CPU: {cpu_pairs}"
            return _part(part.label, NA, note, [c["cell_id"] for c in cpu_cells][:4])
        have = sorted({repr(r["params"].get(part.axis)) for r in cands})
        return _part(
            part.label,
            NA,
            f"no comparable ok {part.workload} cells: needs {part.axis} in "
            f"{list(part.base)} and {list(part.variants)} with the other params equal "
            f"(found {part.axis} values: {', '.join(have) or 'none'})",
            [],
        )
    base, best, ratio = max(pairs, key=lambda p: p[2])
    cells = [base["cell_id"], best["cell_id"]]
    others = _other_pairs(part, [p for p in pairs if p[0] is not base or p[1] is not best])
    if part.reduction:
        measured = f"{100 * ratio:.1f}% less {part.metric}"
        ok = ratio >= part.claim_low
        reason = (
            f"{best['cell_id']} vs {base['cell_id']}: {part.metric} "
            f"{metric_value(best, part.metric):.3f} vs {metric_value(base, part.metric):.3f} "
            f"= {measured} (claim >= {100 * part.claim_low:.1f}%)"
        )
        reason += others + _cpu_note(part, base, best)
        return _part(part.label, PASS if ok else FAIL, reason, cells, measured=measured)
    measured = f"{ratio:.2f}x"
    claim = (
        f"{part.claim_low:g}-{part.claim_high:g}x" if part.claim_high else f">= {part.claim_low:g}x"
    )
    reason = (
        f"{best['cell_id']} vs {base['cell_id']}: {part.metric} "
        f"{metric_value(best, part.metric):.4g} vs {metric_value(base, part.metric):.4g} "
        f"= {measured} (claim {claim})"
    ) + others
    bound = efficiency = None
    if part.workers_param:
        workers = best["params"].get(part.workers_param)
        cores = _cores(best)
        if isinstance(workers, int) and cores:
            bound = float(min(workers, cores))
            efficiency = ratio / bound
            reason += (
                f"; machine has {cores} cores: the best possible speedup with {workers} "
                f"workers is {bound:.1f}x (efficiency {100 * efficiency:.0f}%)"
            )
    if bound is not None and ratio > bound * BOUND_SLACK:
        # Beyond what the cores allow: the baseline lost time to something outside the
        # cell (another process, a cold cache), so the ratio is not evidence either way.
        reason += (
            f"; {measured} is above that bound, so the baseline was slowed by something "
            "outside the cell: not evidence (rerun with --repeats 3)"
        )
        verdict = NA
    elif ratio >= part.claim_low:
        verdict = PASS
    elif bound is not None and part.claim_low >= bound:
        verdict = NA
    else:
        verdict = FAIL
    return _part(
        part.label, verdict, reason, cells, measured=measured, bound=bound, efficiency=efficiency
    )


def _other_pairs(part: Comparison, pairs: list[tuple[Any, Any, float]]) -> str:
    """The comparable pairs the verdict did not use: the best pair is not the only one."""
    if not pairs:
        return ""
    text = ", ".join(
        (f"{100 * ratio:.1f}%" if part.reduction else f"{ratio:.2f}x")
        + f" ({variant['cell_id']} vs {base['cell_id']})"
        for base, variant, ratio in sorted(pairs, key=lambda p: -p[2])
    )
    return f"; the best of {len(pairs) + 1} comparable pairs, the others: {text}"


def _ratio(part: Comparison, base: Mapping[str, Any], variant: Mapping[str, Any]) -> float:
    b, v = metric_value(base, part.metric), metric_value(variant, part.metric)
    assert b is not None and v is not None
    if part.reduction:
        return 1.0 - v / b if b else 0.0
    if part.higher_is_better:
        return v / b if b else 0.0
    return b / v if v else 0.0


def _cpu_ratio(part: Comparison, cells: list, key: Any) -> str:
    bases = {key(r): r for r in cells if r["params"].get(part.axis) in part.base}
    for r in cells:
        if r["params"].get(part.axis) in part.variants and key(r) in bases:
            b = bases[key(r)]
            return f"{_ratio(part, b, r):.2f}x ({r['cell_id']} vs {b['cell_id']})"
    return ""


def _cpu_note(part: Comparison, base: Mapping[str, Any], best: Mapping[str, Any]) -> str:
    if _on_gpu(best) or part.workload != "train":
        return ""
    metrics = (base.get("measurement") or {}).get("metrics") or {}
    wait, epoch = metrics.get("data_wait_s"), metrics.get("epoch_s")
    share = (
        f" (data wait {100 * wait / epoch:.0f}% of the per-sample epoch)" if wait and epoch else ""
    )
    return (
        f"; measured on CPU{share}: the claim was made with a GPU-class training step, "
        "where the loader's share of the epoch differs"
    )
