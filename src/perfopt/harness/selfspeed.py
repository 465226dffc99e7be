"""perfopt's own speed: pytest-benchmark JSON and asv results, rendered for the report.

Both inputs are read with their tools' own formats (pytest-benchmark's `--benchmark-json`
file; asv's results folder through `asv.results`), turned into plain rows, and rendered
as markdown tables: pure functions of the files, like the rest of the report.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from perfopt.errors import UserError
from perfopt.harness.markdown import table

ASV_COMMITS_SHOWN = 6


def load_pytest_benchmark(path: Path) -> dict[str, Any]:
    """Read a `--benchmark-json` file into {commit, machine, rows: [...]} (seconds)."""
    try:
        data = json.loads(Path(path).read_text())
        benchmarks = data["benchmarks"]
    except FileNotFoundError:
        raise UserError(f"pytest-benchmark file {path} not found") from None
    except (json.JSONDecodeError, KeyError, TypeError) as exc:
        raise UserError(
            f"{path} is not a pytest-benchmark JSON file (from `pytest --benchmark-json`): {exc}"
        ) from None
    commit = data.get("commit_info", {})
    machine = data.get("machine_info", {})
    rows = [
        {
            "group": b.get("group") or "",
            "name": b["name"],
            "median_s": b["stats"]["median"],
            "iqr_s": b["stats"]["iqr"],
            "min_s": b["stats"]["min"],
            "rounds": b["stats"]["rounds"],
        }
        for b in benchmarks
    ]
    rows.sort(key=lambda r: (r["group"], r["name"]))
    return {
        "file": Path(path).name,
        "commit": (commit.get("id") or "")[:12],
        "dirty": bool(commit.get("dirty")),
        "datetime": data.get("datetime", ""),
        "machine": f"{machine.get('cpu', {}).get('brand_raw', machine.get('processor', '?'))}, "
        f"{machine.get('cpu', {}).get('count', '?')} cores",
        "rows": rows,
    }


def load_asv_results(folder: Path) -> dict[str, Any]:
    """Read an asv results folder into {machines, commits, rows: [...]} (values as asv saved)."""
    folder = Path(folder)
    if not folder.is_dir():
        raise UserError(f"asv results folder {folder} not found (asv writes it under .asv/results)")
    try:
        from asv import results as asv_results
    except ImportError:
        raise UserError("reading asv results needs asv: pip install -e '.[dev]'") from None
    benchmarks = _asv_benchmarks(folder)
    rows: list[dict[str, Any]] = []
    commits: dict[str, int] = {}
    machines: set[str] = set()
    for root, filename, machine in asv_results.iter_results_paths(str(folder)):
        result = asv_results.Results.load(str(Path(root) / filename), machine_name=machine)
        commit = result.commit_hash[:8]
        commits[commit] = max(commits.get(commit, 0), int(result.date or 0))
        machines.add(machine)
        for key in result.get_result_keys(benchmarks):
            values = result.get_result_value(key, result.get_result_params(key))
            labels = _param_labels(result.get_result_params(key))
            for label, value in zip(labels, values, strict=False):
                rows.append(
                    {
                        "benchmark": key + (f"({label})" if label else ""),
                        "commit": commit,
                        "env": result.env_name,
                        "value": value,
                        "unit": benchmarks.get(key, {}).get("unit", "seconds"),
                    }
                )
    if not rows:
        raise UserError(f"{folder} holds no asv results; run `asv run` first")
    order = sorted(commits, key=lambda c: (commits[c], c))
    return {"folder": folder.name, "machines": sorted(machines), "commits": order, "rows": rows}


def _asv_benchmarks(folder: Path) -> dict[str, Any]:
    path = folder / "benchmarks.json"
    if not path.is_file():
        return {}
    data = json.loads(path.read_text())
    return {k: v for k, v in data.items() if isinstance(v, dict)}


def _param_labels(params: Sequence[Sequence[str]]) -> list[str]:
    """asv's parameter grid as 'a, b' labels, in asv's (itertools.product) order."""
    import itertools

    if not params:
        return [""]
    return [", ".join(str(v).strip("'") for v in combo) for combo in itertools.product(*params)]


def render_selfspeed(
    pytest_runs: Sequence[Mapping[str, Any]], asv: Mapping[str, Any] | None
) -> list[str]:
    """Return the report section on perfopt's own speed (empty when there is no input)."""
    if not pytest_runs and asv is None:
        return []
    out = ["## perfopt's own speed\n"]
    for run in pytest_runs:
        out.append(
            f"pytest-benchmark `{run['file']}`: commit {run['commit'] or '?'}"
            f"{' (dirty)' if run['dirty'] else ''}, {run['datetime'] or 'time unknown'}, "
            f"{run['machine']}.\n"
        )
        rows = [
            [
                r["group"],
                f"`{r['name']}`",
                _time(r["median_s"]),
                _time(r["iqr_s"]),
                _time(r["min_s"]),
                r["rounds"],
            ]
            for r in run["rows"]
        ]
        out += [*table(["group", "benchmark", "median", "IQR", "min", "rounds"], rows), ""]
    if asv is not None:
        commits = asv["commits"][-ASV_COMMITS_SHOWN:]
        out.append(
            f"asv results `{asv['folder']}` ({', '.join(asv['machines']) or 'machine unknown'}): "
            f"the last {len(commits)} commit(s) measured, oldest first.\n"
        )
        values: dict[str, dict[str, str]] = {}
        for r in asv["rows"]:
            if r["commit"] in commits:
                values.setdefault(r["benchmark"], {})[r["commit"]] = _asv_value(
                    r["value"], r["unit"]
                )
        rows = [
            [f"`{name}`", *(values[name].get(c, "-") for c in commits)] for name in sorted(values)
        ]
        out += [*table(["benchmark", *(f"`{c}`" for c in commits)], rows), ""]
    return out


def _asv_value(value: Any, unit: str) -> str:
    if value is None:
        return "failed"
    if isinstance(value, float) and math.isnan(value):
        return "skipped"  # asv stores NaN for a benchmark that raised NotImplementedError
    if unit == "seconds":
        return _time(value)
    if unit == "bytes":
        return f"{value / 2**20:.1f} MiB"
    if unit in ("", "unit"):  # asv's default unit for track_ benchmarks
        return f"{value:.3g}"
    return f"{value:.3g} {unit}"


def _time(seconds: float) -> str:
    if seconds >= 1:
        return f"{seconds:.3g} s"
    if seconds >= 1e-3:
        return f"{seconds * 1e3:.3g} ms"
    return f"{seconds * 1e6:.3g} us"
