"""Typed results: the records the report, verdicts, recommendations and plots read.

`load` is the one way in: it reads a results file through `results.load` (which lifts
schema 1 and 2 lines to schema 3) and returns `Results`: one `CellRecord` per cell
(its `RunRecord`s, `Timing`, `Measurement` and `Attribution`) and the views'
`OverheadRecord`. Readers read fields instead of `.get()` chains; `CellRecord.to_json`
writes a schema 3 line back, and `raw` keeps the line as it was read.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from perfopt.harness import results
from perfopt.harness.results import SCHEMA
from perfopt.harness.view_records import Attribution, OverheadRecord, PsutilView, PyspyView

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
class Timing:
    """The summary of a cell's repeat times (`results.timing`)."""

    n: int = 0
    median_s: float | None = None
    min_s: float | None = None
    max_s: float | None = None
    mean_s: float | None = None
    stdev_s: float | None = None
    spread_pct: float | None = None

    @classmethod
    def from_json(cls, d: Mapping[str, Any] | None) -> Timing:
        """Read a line's `timing` object."""
        d = d or {}
        return cls(int(d.get("n", 0)), *(d.get(k) for k in _TIMING_KEYS))

    def to_json(self) -> dict[str, Any]:
        """The `timing` object as a schema 3 line holds it ({"n": 0} without runs)."""
        values = {k: getattr(self, k) for k in _TIMING_KEYS}
        return {"n": self.n, **{k: v for k, v in values.items() if v is not None}}


_TIMING_KEYS = ("median_s", "min_s", "max_s", "mean_s", "stdev_s", "spread_pct")


@dataclass(frozen=True)
class RunRecord:
    """One repeat of a cell: its wall time and the metrics it reported."""

    seconds: float
    metrics: Mapping[str, Any] = field(default_factory=dict)
    other_busy_cores: float | None = None  # what other processes used meanwhile
    stages: Mapping[str, Any] = field(default_factory=dict)
    order: int | None = None  # its place in the interleaved schedule
    pyspy_attached: bool = False  # py-spy watched this timed run
    # the run's process outside the timed part (None in files written before they were kept)
    startup_s: float | None = None  # launch to "ready": interpreter or fork, prepare
    exit_s: float | None = None  # "done" to the process's exit
    started: str | None = None  # "fork" (from the workload's launcher) or "exec"

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> RunRecord:
        """Read one entry of a line's `runs`."""
        busy = d.get("other_busy_cores")
        return cls(
            float(d["seconds"]),
            dict(d.get("metrics") or {}),
            float(busy) if _finite(busy) else None,
            dict(d.get("stages") or {}),
            d.get("order"),
            bool(d.get("pyspy_attached")),
            float(d["startup_s"]) if _finite(d.get("startup_s")) else None,
            float(d["exit_s"]) if _finite(d.get("exit_s")) else None,
            d.get("started"),
        )

    def to_json(self) -> dict[str, Any]:
        """The run as a schema 3 line's `runs` entry."""
        return {
            "seconds": self.seconds,
            "metrics": dict(self.metrics),
            "stages": dict(self.stages),
            "order": self.order,
            "pyspy_attached": self.pyspy_attached,
            "other_busy_cores": self.other_busy_cores,
            **(
                {"startup_s": self.startup_s, "exit_s": self.exit_s, "started": self.started}
                if self.started is not None
                else {}
            ),
        }


@dataclass(frozen=True)
class Measurement:
    """The median repeat's full measurement: seconds, stage timers, metrics, info."""

    seconds: float | None
    stages: Mapping[str, Any]
    metrics: Mapping[str, Any]
    info: Mapping[str, Any]

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> Measurement:
        """Read a line's `measurement` object."""
        seconds = d.get("seconds")
        return cls(
            float(seconds) if _finite(seconds) else None,
            dict(d.get("stages") or {}),
            dict(d.get("metrics") or {}),
            dict(d.get("info") or {}),
        )

    def to_json(self) -> dict[str, Any]:
        """The `measurement` object as a schema 3 line holds it."""
        return {
            "seconds": self.seconds,
            "stages": dict(self.stages),
            "metrics": dict(self.metrics),
            "info": dict(self.info),
        }


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
    runs: tuple[RunRecord, ...]
    declared_problem_axes: Mapping[str, str] | None  # None: the line does not say
    environment: Mapping[str, Any]
    raw: Mapping[str, Any]  # the line as read
    matrix: str = ""
    repeats: tuple[float, ...] = ()
    timing: Timing = field(default_factory=Timing)
    measurement: Measurement | None = None
    prepare_s: float | None = None
    thread_caps: Mapping[str, str] | None = None
    attribution: Attribution | None = None
    verdict: Any = None  # {"kind", "text", ...}, or an older line's plain text

    @classmethod
    def from_json(cls, line: Mapping[str, Any]) -> CellRecord:
        """Build from a migrated results line (schema 3)."""
        runs = tuple(
            RunRecord.from_json(r)
            for r in line.get("runs") or []
            if isinstance(r.get("seconds"), int | float)
        )
        measurement = line.get("measurement")
        attribution = line.get("attribution")
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
            declared_problem_axes=line.get("problem_axes"),
            environment=dict(line.get("environment") or {}),
            raw=line,
            matrix=str(line.get("matrix") or ""),
            repeats=tuple(float(s) for s in line.get("repeats") or ()),
            timing=Timing.from_json(line.get("timing")),
            measurement=Measurement.from_json(measurement) if measurement else None,
            prepare_s=line.get("prepare_s"),
            thread_caps=line.get("thread_caps"),
            attribution=Attribution.from_json(attribution) if attribution else None,
            verdict=line.get("verdict"),
        )

    from_line = from_json  # the name the tests and older callers use

    def to_json(self) -> dict[str, Any]:
        """The cell as a schema 3 results line (what `results.append` writes)."""
        return {
            "schema": SCHEMA,
            "kind": "cell",
            "matrix": self.matrix,
            "cell_id": self.cell_id,
            "label": self.label,
            "workload": self.workload,
            "grid": self.grid,
            "params": dict(self.params),
            "baseline": self.baseline,
            "status": self.status,
            "error": self.error,
            "repeats": list(self.repeats),
            "runs": [r.to_json() for r in self.runs],
            "timing": self.timing.to_json(),
            "measurement": self.measurement.to_json() if self.measurement else None,
            "prepare_s": self.prepare_s,
            "thread_caps": self.thread_caps,
            "attribution": self.attribution.to_json() if self.attribution else None,
            "verdict": self.verdict,
            "problem_axes": self.declared_problem_axes,
            "environment": dict(self.environment),
        }

    @property
    def ok(self) -> bool:
        """Whether the cell ran to the end."""
        return self.status == "ok"

    @property
    def problem_axes(self) -> Mapping[str, str]:
        """Axes whose change changes the problem, and why (defaults when undeclared)."""
        declared = self.declared_problem_axes
        return dict(DEFAULT_PROBLEM_AXES if declared is None else declared)

    @property
    def median_s(self) -> float | None:
        """The median repeat's seconds, from the line's timing summary."""
        return self.timing.median_s

    @property
    def metrics(self) -> Mapping[str, Any]:
        """The median repeat's metrics (none when the cell did not run)."""
        return self.measurement.metrics if self.measurement else {}

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
        info = self.measurement.info if self.measurement else {}
        return str(info.get("device") or self.params.get("device") or "cpu")

    @property
    def on_gpu(self) -> bool:
        """Whether the cell ran on a CUDA device."""
        return self.device.startswith("cuda")

    @property
    def psutil(self) -> PsutilView | None:
        """The psutil view of the cell's process tree, if recorded."""
        return self.attribution.psutil if self.attribution else None

    @property
    def pyspy(self) -> PyspyView | None:
        """py-spy's view of the cell, if recorded."""
        return self.attribution.pyspy if self.attribution else None

    @property
    def cpu_cores_used(self) -> float | None:
        """Cores the cell's process tree kept busy on average (psutil view), if recorded."""
        return self.psutil.cpu_utilization_cores if self.psutil else None

    @property
    def pyspy_watched_a_timed_run(self) -> bool:
        """Whether py-spy was attached to one of the timed runs."""
        return any(r.pyspy_attached for r in self.runs)

    def stage_shares(self) -> dict[str, float]:
        """Top-level stages as shares of the run (of their sum when workers overlap).

        Nested "outer/inner" stages and sums such as "total" are left out: they would
        count time twice.
        """
        m = self.measurement
        if m is None:
            return {}
        top = {
            k: float(v)
            for k, v in m.stages.items()
            if "/" not in k and k != "total" and isinstance(v, int | float)
        }
        # stages summed over parallel workers can exceed the wall time: share of their sum then
        total = max(m.seconds or 0.0, sum(top.values()))
        return {k: v / total for k, v in top.items()} if total else {}

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
    return [CellRecord.from_json(line) for line in by_id.values()]


@dataclass(frozen=True)
class Results:
    """A whole results file, typed: its cells, the views' overhead, the lines as read."""

    cells: list[CellRecord]
    overhead: OverheadRecord | None
    lines: list[dict[str, Any]]  # every migrated line (user targets are read from them)

    @property
    def matrix(self) -> str:
        """The matrix's name ("matrix" when no cell says)."""
        return next((c.matrix for c in self.cells if c.matrix), "") or "matrix"


def from_lines(lines: Sequence[dict[str, Any]]) -> Results:
    """Typed results of already migrated lines (the last overhead line wins)."""
    overhead = [line for line in lines if line.get("kind") == "overhead"]
    return Results(
        records(lines), OverheadRecord.from_json(overhead[-1]) if overhead else None, list(lines)
    )


def load(path: Path) -> Results:
    """The one loader: read a results file, lift schema 1 and 2 lines, type them."""
    return from_lines(results.load(Path(path)))


def _finite(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _fmt(value: Any) -> str:
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float):
        return f"{value:g}"
    return "-" if value is None else str(value)
