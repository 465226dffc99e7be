"""Typed views of result lines: what verdicts, recommendations and plots read.

A `CellRecord` is built from a migrated results line (`results.load`) and exposes the
fields the readers need, so that they read attributes instead of `.get()` chains. The
line itself stays available as `raw` for the parts of the report that show it whole.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

# What changes the problem (not only its speed) when a workload's line does not say:
# schema 2 files, and workloads that declare nothing.
DEFAULT_PROBLEM_AXES: Mapping[str, str] = {
    "tickers": "a different universe",
    "days": "a different period",
    "seed": "a different random draw",
    "n_trials": "a different number of trials",
    "timeframe_pair": "a different pair of timeframes",
    "samples": "a different dataset",
    "seq_len": "a different dataset",
    "features": "a different dataset",
    "games": "a different number of games",
    "simulations": "a different search depth",
}


@dataclass(frozen=True)
class Run:
    """One repeat of a cell: its wall time and the metrics it reported."""

    seconds: float
    metrics: Mapping[str, Any] = field(default_factory=dict)
    other_busy_cores: float | None = None  # what other processes used meanwhile


@dataclass(frozen=True)
class HostKey:
    """Cells are only compared when they ran on the same host, commit and core count."""

    host: str
    commit: str
    cores: int | None

    def text(self) -> str:
        """'vm @ ea0c2d0cafe1, 2 cores'."""
        cores = f", {self.cores} cores" if self.cores else ""
        return f"{self.host} @ {self.commit[:12]}{cores}"


@dataclass(frozen=True)
class CellRecord:
    """One cell line of a results file, typed."""

    cell_id: str
    label: str
    workload: str
    grid: str
    params: Mapping[str, Any]
    baseline: bool
    status: str
    error: str | None
    runs: tuple[Run, ...]
    problem_axes: Mapping[str, str]
    environment: Mapping[str, Any]
    raw: Mapping[str, Any]

    @classmethod
    def from_line(cls, line: Mapping[str, Any]) -> CellRecord:
        """Build from a migrated results line (schema 3)."""
        runs = tuple(
            Run(
                float(r["seconds"]),
                dict(r.get("metrics") or {}),
                float(r["other_busy_cores"]) if _finite(r.get("other_busy_cores")) else None,
            )
            for r in line.get("runs") or []
            if isinstance(r.get("seconds"), int | float)
        )
        problem = line.get("problem_axes")
        return cls(
            cell_id=str(line["cell_id"]),
            label=str(line.get("label", "")),
            workload=str(line.get("workload", "")),
            grid=str(line.get("grid") or line.get("workload", "")),
            params=dict(line.get("params") or {}),
            baseline=bool(line.get("baseline")),
            status=str(line.get("status", "failed")),
            error=line.get("error"),
            runs=runs,
            problem_axes=dict(DEFAULT_PROBLEM_AXES if problem is None else problem),
            environment=dict(line.get("environment") or {}),
            raw=line,
        )

    @property
    def ok(self) -> bool:
        """Whether the cell ran to the end."""
        return self.status == "ok"

    def values(self, metric: str) -> list[float]:
        """Per-run values of `metric` ("seconds" is the wall time), finite ones only."""
        if metric == "seconds":
            out = [r.seconds for r in self.runs]
        else:
            out = [r.metrics.get(metric) for r in self.runs]
        return [float(v) for v in out if _finite(v)]

    @property
    def other_busy_cores(self) -> float | None:
        """Mean cores other processes kept busy during the cell's runs (None: not measured)."""
        values = [r.other_busy_cores for r in self.runs if r.other_busy_cores is not None]
        return sum(values) / len(values) if values else None

    @property
    def host(self) -> HostKey:
        """Where the cell ran: host, commit and available cores."""
        env = self.environment
        cores = env.get("cores_available") or env.get("cores_logical")
        return HostKey(
            str(env.get("hostname") or "?"),
            str((env.get("git") or {}).get("commit") or "?"),
            int(cores) if cores else None,
        )

    @property
    def device(self) -> str:
        """The device a torch cell ran on ("cpu" when it does not say)."""
        info = (self.raw.get("measurement") or {}).get("info") or {}
        return str(info.get("device") or self.params.get("device") or "cpu")

    @property
    def on_gpu(self) -> bool:
        """Whether the cell ran on a CUDA device."""
        return self.device.startswith("cuda")

    @property
    def cpu_cores_used(self) -> float | None:
        """Cores the cell's process tree kept busy on average (psutil view), if recorded."""
        ps = (self.raw.get("attribution") or {}).get("psutil") or {}
        value = ps.get("cpu_utilization_cores")
        return float(value) if _finite(value) else None

    def scalar_params(self) -> dict[str, Any]:
        """The params that are plain values (lists and tables left out)."""
        return {k: v for k, v in self.params.items() if not isinstance(v, list | dict)}

    def params_text(self, keys: Iterable[str]) -> str:
        """'n_jobs=2 storage=sqlite' for the given keys (a label, never a bare hash)."""
        return " ".join(f"{k}={_fmt(self.params.get(k))}" for k in keys)


# Other processes using this much of the machine's cores (on average over a cell's runs)
# leave a comparison with that cell without evidence: its runs competed with strangers.
BUSY_MACHINE_CORES = 0.5


def busy_machine(*cells: CellRecord) -> str | None:
    """'other processes kept 1.2 of 2 cores busy during these runs', or None when quiet."""
    seen = [c.other_busy_cores for c in cells if c.other_busy_cores is not None]
    if not seen or max(seen) < BUSY_MACHINE_CORES:
        return None
    cores = cells[-1].host.cores if cells else None
    return f"other processes kept {max(seen):.1f} of {cores or '?'} cores busy during these runs"


def records(lines: Iterable[Mapping[str, Any]]) -> list[CellRecord]:
    """Typed cell records of migrated results lines, last line per cell id winning."""
    by_id: dict[str, Mapping[str, Any]] = {}
    for line in lines:
        if line.get("kind", "cell") == "cell":
            by_id[str(line["cell_id"])] = line
    return [CellRecord.from_line(line) for line in by_id.values()]


def _finite(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _fmt(value: Any) -> str:
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float):
        return f"{value:g}"
    return "-" if value is None else str(value)
