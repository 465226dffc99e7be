"""results.jsonl: one versioned JSON object per line, append-only, migrated on read.

Schema 3 (current), one line per cell:

    schema, kind ("cell"), matrix, cell_id, label, workload, grid, params, baseline,
    status (ok / failed / timeout / skipped), error, repeats (seconds of each run),
    runs [{seconds, metrics, stages}] (every repeat, in the order they ran),
    timing {n, median_s, min_s, max_s, mean_s, stdev_s, spread_pct},
    measurement {seconds, stages, metrics, info} (the median repeat) or null,
    prepare_s, attribution {stages, psutil, pyspy, oversubscription, threadpools},
    verdict, problem_axes {axis: why changing it changes the problem},
    environment {..., start_utc}

and optionally one `kind = "overhead"` line with the views' measured overhead.
Schema 2 had no `runs`: only the median repeat's metrics were kept. Its `repeats` are
seconds of the same work, so `migrate` rebuilds each run's metrics from the median
one, scaled by the run's seconds: a time (`*_s`) in proportion, a throughput
(`*_per_s`) inversely, anything else unchanged. Schema 1 (the first files) kept
seconds/stages/metrics/info and psutil/pyspy flat on the line with no repeats. Older
lines are lifted step by step (asv `update_to_2` style); a newer schema is refused
instead of guessed at. Credentials are masked before a line is written.

This module reads and writes lines; `perfopt.harness.records.load` is what readers
call: it loads through `load` here and returns the lines as typed records.
"""

from __future__ import annotations

import json
import os
import statistics
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from perfopt.errors import UserError
from perfopt.harness.cells import params_label
from perfopt.urls import mask_tree

SCHEMA = 3
TERMINAL = ("ok", "failed", "timeout", "skipped")


def timing(seconds: Sequence[float]) -> dict[str, Any]:
    """Summarize repeat times: median, min, max, mean, stdev and spread (% of mean)."""
    if not seconds:
        return {"n": 0}
    mean = statistics.fmean(seconds)
    stdev = statistics.stdev(seconds) if len(seconds) > 1 else 0.0
    return {
        "n": len(seconds),
        "median_s": statistics.median(seconds),
        "min_s": min(seconds),
        "max_s": max(seconds),
        "mean_s": mean,
        "stdev_s": stdev,
        "spread_pct": 100.0 * stdev / mean if mean > 0 else 0.0,
    }


def append(path: Path, record: dict[str, Any]) -> None:
    """Mask, then append one line, flushed and fsynced (a crash loses at most this line)."""
    line = json.dumps(mask_tree(record), sort_keys=True, default=str)
    with open(path, "a", encoding="utf-8") as fh:
        fh.write(line + "\n")
        fh.flush()
        os.fsync(fh.fileno())


def repair_tail(path: Path) -> None:
    """Cut a half-written last line (a crash mid-write) so appends start on a clean line."""
    if not path.exists():
        return
    data = path.read_bytes()
    if data and not data.endswith(b"\n"):
        with open(path, "r+b") as fh:
            fh.truncate(data.rfind(b"\n") + 1)


def load(path: Path) -> list[dict[str, Any]]:
    """Read a results file, migrating older lines and refusing newer ones."""
    if not path.is_file():
        raise UserError(f"results file {path} does not exist")
    records = []
    lines = path.read_text(encoding="utf-8").splitlines()
    for lineno, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            if lineno == len(lines):
                continue  # a half-written last line from a crash: that cell reruns
            raise UserError(f"{path}:{lineno}: not a JSON line ({exc.msg})") from exc
        records.append(migrate(record, f"{path}:{lineno}"))
    return records


def finished_ids(path: Path) -> set[str]:
    """Ids of cells with a terminal status in `path` (what --resume skips)."""
    if not path.exists():
        return set()
    return {
        r["cell_id"] for r in load(path) if r.get("kind") == "cell" and r.get("status") in TERMINAL
    }


# Fields every cell line must hold, with their types (what the report and --resume read).
_CELL_FIELDS: dict[str, type | tuple[type, ...]] = {
    "cell_id": str,
    "workload": str,
    "status": str,
    "params": dict,
    "timing": dict,
    "attribution": (dict, type(None)),
}


def migrate(record: Any, where: str) -> dict[str, Any]:
    """Bring one line up to the current schema; refuse lines from a newer perfopt.

    A line of another shape (not an object, a cell without its id or status...) is a
    UserError naming the line: it is not a perfopt results line, or a damaged one.
    """
    if not isinstance(record, dict):
        raise UserError(
            f"{where}: a JSON {type(record).__name__}, not an object; not a perfopt results line"
        )
    version = record.get("schema")
    if not isinstance(version, int):
        raise UserError(f"{where}: no integer 'schema' field; not a perfopt results line")
    if version > SCHEMA:
        raise UserError(
            f"{where}: results schema {version} is newer than this perfopt reads "
            f"(schema {SCHEMA}); upgrade perfopt to read it"
        )
    if version == 1:
        _check_fields(record, {"cell_id": str, "workload": str}, where)
        record = _v1_to_v2(record)
    kind = record.get("kind", "cell")
    if kind == "cell":
        _check_fields(record, _CELL_FIELDS, where)
    if record.get("schema") == 2:
        record = _v2_to_v3(record)
    return record


def _check_fields(record: dict[str, Any], fields: dict[str, Any], where: str) -> None:
    for key, kind in fields.items():
        if not isinstance(record.get(key), kind):
            shown = "missing" if key not in record else f"a {type(record[key]).__name__}"
            raise UserError(
                f"{where}: field {key!r} is {shown}; not a perfopt results line, or a damaged "
                "one (remove the line, or rerun the matrix into a new --out)"
            )


def scaled_metrics(metrics: dict[str, Any], factor: float) -> dict[str, Any]:
    """A run's metrics from another run's, its time `factor` times theirs (schema 2 -> 3)."""
    out: dict[str, Any] = {}
    for key, value in metrics.items():
        if not isinstance(value, int | float) or isinstance(value, bool):
            out[key] = value
        elif key.endswith("_per_s"):
            out[key] = value / factor
        elif key.endswith("_s"):
            out[key] = value * factor
        else:
            out[key] = value
    return out


def _v2_to_v3(old: dict[str, Any]) -> dict[str, Any]:
    new = dict(old)
    new["schema"] = 3
    if old.get("kind", "cell") != "cell":
        return new
    measurement = old.get("measurement") or {}
    median_s = measurement.get("seconds")
    runs = []
    if old.get("status") == "ok" and median_s:
        for seconds in old.get("repeats") or []:
            factor = float(seconds) / float(median_s)
            runs.append(
                {
                    "seconds": float(seconds),
                    "metrics": scaled_metrics(measurement.get("metrics") or {}, factor),
                    "stages": {},
                }
            )
    new["runs"] = runs
    new.setdefault("problem_axes", None)  # unknown: the readers' defaults apply
    return new


def _v1_to_v2(old: dict[str, Any]) -> dict[str, Any]:
    seconds = old.get("seconds")
    ok = old.get("status") == "ok" and seconds is not None
    repeats = [float(seconds)] if ok else []
    measurement = (
        {
            "seconds": float(seconds),
            "stages": old.get("stages", {}),
            "metrics": old.get("metrics", {}),
            "info": old.get("info", {}),
        }
        if ok
        else None
    )
    params = old.get("params", {})
    return {
        "schema": 2,
        "kind": "cell",
        "matrix": old.get("matrix", ""),
        "cell_id": old["cell_id"],
        "label": params_label(params),
        "workload": old["workload"],
        "grid": old.get("workload", ""),
        "params": params,
        "baseline": False,
        "status": old.get("status", "failed"),
        "error": old.get("error"),
        "repeats": repeats,
        "timing": timing(repeats),
        "measurement": measurement,
        "prepare_s": None,
        "attribution": {
            "stages": old.get("stages", {}),
            "psutil": old.get("psutil"),
            "pyspy": old.get("pyspy"),
            "oversubscription": None,
            "threadpools": None,
        },
        "verdict": old.get("verdict"),
        "environment": old.get("environment", {}),
    }
