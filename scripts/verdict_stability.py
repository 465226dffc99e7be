#!/usr/bin/env python3
"""Compare two runs of the same matrix: do the verdicts and recommendations hold?

    python scripts/verdict_stability.py RUN_A RUN_B [--out FILE.md]

RUN_A and RUN_B are run folders (holding results.jsonl) or results files. Prints a
markdown comparison: each target's verdict in both runs (a change PASS <-> FAIL is a flip;
a change to or from INCONCLUSIVE is allowed: the interval could not decide), each grid's
recommendation in both (a different setting, or one run recommending what the other finds
significantly slower, is a reversal; one setting that is a part of the other, e.g.
`storage=journal` against `n_jobs=2 storage=journal`, is a refinement: both runs agree on
the common part, and only whether the extra change adds a significant gain differs, which
is a change to or from "not shown", allowed), and every cell's median time B / A. Exit status 0
when nothing flipped or reversed, 1 otherwise, 2 on bad input.
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

from perfopt.errors import UserError
from perfopt.harness import records
from perfopt.harness.markdown import table
from perfopt.harness.recommend import Candidate, Recommendation, recommend
from perfopt.harness.records import CellRecord
from perfopt.harness.targets import FAIL, PASS, evaluate_all


def load(path: Path) -> list[CellRecord]:
    """Typed cell records of a run folder or a results file."""
    file = path / "results.jsonl" if path.is_dir() else path
    return records.load(file).cells


def verdict_rows(a: list[CellRecord], b: list[CellRecord]) -> tuple[list[list[str]], int]:
    """One row per target (and per part of a target with several); the number of flips."""
    va = {v.id: v for v in evaluate_all(a)}
    vb = {v.id: v for v in evaluate_all(b)}
    rows, flips = [], 0
    for tid, x in va.items():
        y = vb.get(tid)
        if y is None:
            rows.append([tid, x.label, "-", "missing in B"])
            continue
        pairs = [(tid, x.label, y.label, _measured(x), _measured(y), x.verdict, y.verdict)]
        if len(x.parts) > 1:
            pairs += [
                (
                    f"{tid}: {p.label}",
                    p.verdict,
                    q.verdict,
                    f"{p.measured} {p.interval}",
                    f"{q.measured} {q.interval}",
                    p.verdict,
                    q.verdict,
                )
                for p, q in zip(x.parts, y.parts, strict=True)
            ]
        for name, la, lb, ma, mb, da, db in pairs:
            flipped = {da, db} == {PASS, FAIL}
            flips += flipped
            change = "FLIP" if flipped else "same" if la == lb else "changed (allowed)"
            rows.append([name, f"{la} ({ma})", f"{lb} ({mb})", change])
    return rows, flips


def _measured(v) -> str:  # noqa: ANN001 - a TargetVerdict
    return "; ".join(f"{p.measured} {p.interval}" for p in v.parts)


def recommendation_rows(a: list[CellRecord], b: list[CellRecord]) -> tuple[list[list[str]], int]:
    """One row per grid: both recommendations and whether they reversed."""
    ra = {(r.workload, r.grid): r for r in recommend(a)}
    rb = {(r.workload, r.grid): r for r in recommend(b)}
    rows, reversals = [], 0
    for key, x in ra.items():
        y = rb.get(key)
        if y is None:
            continue
        reversed_ = _reversed(x, y) or _reversed(y, x)
        reversals += reversed_
        if x.best is None and y.best is None:
            change = "same (none)"
        elif reversed_:
            change = "REVERSED"
        elif _best(x) == _best(y):
            change = "same"
        elif x.best is not None and y.best is not None and _part_of_other(x.best, y.best):
            change = "refined (allowed)"
        else:
            change = "changed (allowed)"
        rows.append([f"{key[0]} `{key[1]}`", _best_text(x), _best_text(y), change])
    return rows, reversals


def _best(r: Recommendation) -> str | None:
    return r.best.change_text() if r.best else None


def _best_text(r: Recommendation) -> str:
    if r.best:
        return f"`{r.best.change_text()}` {r.best.gain.text()}"
    busy = sum(c.busy is not None for c in r.candidates)
    return f"none significant ({busy} not judged: busy machine)" if busy else "none significant"


def _reversed(x: Recommendation, y: Recommendation) -> bool:
    """x recommends a setting that y recommends against, or y recommends another one."""
    if x.best is None:
        return False
    if (
        y.best is not None
        and y.best.change_text() != x.best.change_text()
        and not _part_of_other(x.best, y.best)
    ):
        return True
    twin = next((c for c in y.candidates if c.change_text() == x.best.change_text()), None)
    return (
        twin is not None
        and twin.busy is None
        and twin.gain.enough
        and (twin.gain.high or 2.0) < 1.0
    )


def _part_of_other(a: Candidate, b: Candidate) -> bool:
    """Whether one setting's changes are a part of the other's (axis and value alike)."""
    x, y = set(a.changed), set(b.changed)
    return x <= y or y <= x


def cell_rows(a: list[CellRecord], b: list[CellRecord]) -> tuple[list[list[str]], list[float]]:
    """Every cell in both runs: median seconds in each and B / A."""
    by_id = {r.cell_id: r for r in b}
    rows, ratios = [], []
    for x in a:
        y = by_id.get(x.cell_id)
        if y is None or not x.values("seconds") or not y.values("seconds"):
            continue
        ma, mb = statistics.median(x.values("seconds")), statistics.median(y.values("seconds"))
        ratio = mb / ma if ma else float("nan")
        ratios.append(ratio)
        rows.append([f"`{x.cell_id}`", x.label, f"{ma:.4g}", f"{mb:.4g}", f"{ratio:.2f}"])
    return rows, ratios


def compare(path_a: Path, path_b: Path) -> tuple[str, bool]:
    """The markdown comparison and whether the two runs agree (no flip, no reversal)."""
    a, b = load(path_a), load(path_b)
    vrows, flips = verdict_rows(a, b)
    rrows, reversals = recommendation_rows(a, b)
    crows, ratios = cell_rows(a, b)
    spread = [max(r, 1 / r) for r in ratios if r > 0]
    out = [
        f"# Verdict stability: `{path_a}` (A) against `{path_b}` (B)\n",
        f"{flips} verdict flip(s) PASS <-> FAIL, {reversals} recommendation reversal(s).\n",
        "## Target verdicts\n",
        *table(["target", "A", "B", "change"], vrows),
        "",
        "## Recommendations\n",
        *table(["grid", "A", "B", "change"], rrows),
        "",
        "## Cells: median seconds\n",
    ]
    if spread:
        out.append(
            f"{len(spread)} cells in both runs; the median cell moved by a factor of "
            f"{statistics.median(spread):.2f} between the runs, the most by {max(spread):.2f}.\n"
        )
    out += [*table(["cell", "params", "A median s", "B median s", "B / A"], crows), ""]
    return "\n".join(out), flips == 0 and reversals == 0


def main(argv: list[str] | None = None) -> int:
    """Command line: compare two runs, print (and optionally write) the comparison."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], allow_abbrev=False)
    parser.add_argument("run_a", type=Path, metavar="RUN_A")
    parser.add_argument("run_b", type=Path, metavar="RUN_B")
    parser.add_argument("--out", type=Path, metavar="FILE.md", help="also write it here")
    args = parser.parse_args(argv)
    try:
        text, stable = compare(args.run_a, args.run_b)
    except UserError as exc:
        print(f"verdict_stability: error: {exc}", file=sys.stderr)
        return 2
    print(text)
    if args.out:
        args.out.write_text(text, encoding="utf-8")
    return 0 if stable else 1


if __name__ == "__main__":
    sys.exit(main())
