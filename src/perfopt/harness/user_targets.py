"""`[[target]]` tables of a user's matrix file: their own claims, judged like the built-in ones.

Each table is one claim with one part, in the fields of `claims.Threshold` or
`claims.Comparison` (docs/your-objective.md shows both):

    [[target]]
    id = "processes-beat-threads"
    claim = "2 worker processes give >= 1.5x the trials/s of 2 threads"
    kind = "comparison"
    workload = "objective"           # default: the workload of the only grid
    axis = "mode"
    base = ["thread"]
    variants = ["trial"]             # default: every other value of the axis
    metric = "trials_per_s"
    higher_is_better = true
    claim_low = 1.5                  # claim_high optional; reduction = true for "x% less"
    select = { n_jobs = 2 }          # cells the pair must match

    [[target]]
    id = "trial-under-1s"
    kind = "threshold"
    metric = "p90_trial_s"
    limit = 1.0
    select = { mode = "trial" }

The definitions travel in results.jsonl (a `kind = "targets"` line) so `perfopt report`
judges them again from the results alone.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict
from typing import Any

from perfopt.errors import UserError
from perfopt.harness.claims import Comparison, Target, Threshold

_COMMON = {"id", "claim", "source", "kind", "workload", "metric", "select"}
_THRESHOLD = _COMMON | {"limit"}
_COMPARISON = _COMMON | {
    "label", "axis", "base", "variants", "higher_is_better", "claim_low", "claim_high",
    "free", "own", "prefer", "workers_param", "claim_workers", "reduction",
}  # fmt: skip
DEFAULT_SOURCE = "your matrix file"


def parse_targets(
    raw: Any,
    source: str,
    workloads: Sequence[str],
    resolve: Callable[[str], str] = lambda name: name,
) -> tuple[Target, ...]:
    """The [[target]] tables of a spec as Targets, or UserError naming the bad key.

    `resolve` maps a target's workload name as written to the grids' (relative paths).
    """
    if raw is None:
        return ()
    if not isinstance(raw, list) or not all(isinstance(t, dict) for t in raw):
        raise UserError(f"{source}: target must be [[target]] tables")
    out = [_target(t, i, source, workloads, resolve) for i, t in enumerate(raw)]
    ids = [t.id for t in out]
    dupes = sorted({i for i in ids if ids.count(i) > 1})
    if dupes:
        raise UserError(f"{source}: target ids must be unique, repeated: {', '.join(dupes)}")
    return tuple(out)


def _target(
    t: dict[str, Any],
    index: int,
    source: str,
    workloads: Sequence[str],
    resolve: Callable[[str], str],
) -> Target:
    where = f"{source}: target #{index + 1}"
    kind = t.get("kind")
    if kind not in ("threshold", "comparison"):
        raise UserError(f'{where}: kind must be "threshold" or "comparison", got {kind!r}')
    valid = _THRESHOLD if kind == "threshold" else _COMPARISON
    unknown = sorted(set(t) - valid)
    if unknown:
        raise UserError(
            f"{where}: unknown key(s) {', '.join(unknown)} for a {kind}; valid keys: "
            f"{', '.join(sorted(valid))}"
        )
    tid = _text(t, "id", where)
    where = f"{source}: target {tid!r}"
    metric = _text(t, "metric", where)
    distinct = sorted(set(workloads))
    workload = t.get("workload")
    if workload is None:
        if len(distinct) != 1:
            raise UserError(
                f"{where}: name its workload (workload = ...): the matrix has "
                f"{', '.join(distinct)}"
            )
        workload = distinct[0]
    elif not isinstance(workload, str) or resolve(workload) not in distinct:
        raise UserError(
            f"{where}: workload {workload!r} is in no grid of this file ({', '.join(distinct)})"
        )
    else:
        workload = resolve(workload)
    from perfopt.harness.registry import label

    workload = label(workload)  # the name the cells' records carry
    select = _table(t.get("select", {}), where, "select")
    if kind == "threshold":
        part: Threshold | Comparison = Threshold(
            workload, metric, _number(t, "limit", where), select=select
        )
        claim = t.get("claim") or f"{metric} under {t['limit']:g}"
    else:
        axis = _text(t, "axis", where)
        base = _values(t.get("base"), where, "base")
        if not base:
            raise UserError(f"{where}: base = [VALUE, ...] names the base cells' {axis}")
        claim_low = _number(t, "claim_low", where)
        high = t.get("claim_high")
        part = Comparison(
            label=str(t.get("label") or f"{axis} {'/'.join(map(str, _values(t.get('variants'), where, 'variants') or ('other',)))} vs {'/'.join(map(str, base))}"),
            workload=workload,
            axis=axis,
            base=base,
            variants=_values(t.get("variants"), where, "variants"),
            metric=metric,
            higher_is_better=bool(t.get("higher_is_better", metric.endswith("_per_s"))),
            claim_low=claim_low,
            claim_high=None if high is None else _number(t, "claim_high", where),
            select=select,
            free=tuple(str(x) for x in _values(t.get("free"), where, "free")),
            own=_table(t.get("own", {}), where, "own"),
            prefer=_table(t.get("prefer", {}), where, "prefer"),
            workers_param=t.get("workers_param"),
            claim_workers=t.get("claim_workers"),
            reduction=bool(t.get("reduction", False)),
        )
        claim = t.get("claim") or f"{part.label}: {part.claim_text()} {metric}"
    return Target(tid, str(t.get("source") or DEFAULT_SOURCE), str(claim), (part,))


def to_json(targets: Sequence[Target]) -> list[dict[str, Any]]:
    """Targets as JSON-ready dicts (the results line)."""
    out = []
    for t in targets:
        part = t.parts[0]
        kind = "threshold" if isinstance(part, Threshold) else "comparison"
        out.append({"id": t.id, "source": t.source, "claim": t.claim, "kind": kind,
                    "part": _jsonable(asdict(part))})  # fmt: skip
    return out


def from_json(items: Sequence[Mapping[str, Any]]) -> tuple[Target, ...]:
    """Targets back from `to_json` output."""
    out = []
    for item in items:
        p = dict(item["part"])
        if item["kind"] == "threshold":
            part: Threshold | Comparison = Threshold(**p)
        else:
            for key in ("base", "variants", "free"):
                p[key] = tuple(p.get(key) or ())
            part = Comparison(**p)
        out.append(Target(item["id"], item["source"], item["claim"], (part,)))
    return tuple(out)


def from_records(records: Sequence[Mapping[str, Any]]) -> tuple[Target, ...]:
    """The user targets stored in a results file's records (the last line wins)."""
    lines = [r for r in records if r.get("kind") == "targets"]
    return from_json(lines[-1]["targets"]) if lines else ()


def _jsonable(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    return value


def _text(t: Mapping[str, Any], key: str, where: str) -> str:
    value = t.get(key)
    if not isinstance(value, str) or not value.strip():
        raise UserError(f'{where}: needs {key} = "..."')
    return value


def _number(t: Mapping[str, Any], key: str, where: str) -> float:
    value = t.get(key)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise UserError(f"{where}: needs {key} = NUMBER, got {value!r}")
    return float(value)


def _values(value: Any, where: str, key: str) -> tuple[Any, ...]:
    if value is None:
        return ()
    return tuple(value) if isinstance(value, list) else (value,)


def _table(value: Any, where: str, key: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise UserError(f"{where}: {key} must be a table, e.g. {key} = {{ n_jobs = 2 }}")
    return dict(value)
