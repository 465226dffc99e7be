"""The one interface between workloads and the harness.

A workload (backtest, optimize, train, selfplay, an arbitrary command) runs one
configuration and returns a `Measurement`. It knows nothing of matrices, cells or
reports; the harness knows workloads only through this interface and a registry of
import paths (`perfopt.harness.registry`), so the arrows point one way.

Contract for implementers:

- `axes` lists every parameter the workload accepts with the values a matrix may try
  (the harness refuses unknown axes and values and lists these). `defaults` fills the
  parameters a cell does not name.
- `skip_reason(params)` returns why a combination is invalid (for example hybrid
  oversubscription, or fork after torch threads), or None. It must be cheap and pure.
- `problem_axes` maps each axis whose change changes the problem (not only its speed:
  a different universe, dataset or number of trials) to why; a key "axis=value" marks
  one value that is no drop-in substitute (in-memory storage keeps nothing). The
  harness never recommends such a change as a speed-up.
- `preload` names the modules `run` imports (torch, optuna, numba...): the harness
  imports them before timing starts, so its views watch the work, not the imports.
  They are imported once per matrix run in a launcher process that forks each run
  (perfopt.harness.launcher): a module that starts a Python thread at import makes the
  harness start a new interpreter per run instead.
- `prepare(params, cache_dir)` creates shared inputs (generated data) in `cache_dir`;
  it runs before timing starts, may be called many times and must be idempotent.
- `run(params, cache_dir, workdir)` does the measured work in the calling process
  (the harness has already put it in a fresh child process with the cell's thread caps)
  and returns a Measurement. It may start its own worker processes. It writes only
  under `workdir`.

Instances hold no state between calls; the harness may create one per cell.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, ClassVar


@dataclass
class Measurement:
    """What one run of a workload reports: wall time, stage timers, metrics, details.

    Attributes:
        seconds: wall time of the measured part of the run.
        stages: seconds per named stage (the workload's own timers; nested stages use
            "outer/inner" names).
        metrics: numbers the report and targets use (throughputs, speedups, counts);
            higher-is-better or not is the metric's own business, named by its key.
        info: anything else worth keeping (JSON-serializable): thread pools, storage,
            compile time, per-worker start-up.
    """

    seconds: float
    stages: dict[str, float] = field(default_factory=dict)
    metrics: dict[str, float] = field(default_factory=dict)
    info: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-serializable dict."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Measurement:
        """Build a Measurement from `to_dict` output."""
        return cls(
            seconds=float(data["seconds"]),
            stages=dict(data.get("stages", {})),
            metrics=dict(data.get("metrics", {})),
            info=dict(data.get("info", {})),
        )


class Workload(ABC):
    """A runnable configuration space: see the module docstring for the contract."""

    name: ClassVar[str]
    axes: ClassVar[Mapping[str, Sequence[Any]]]
    defaults: ClassVar[Mapping[str, Any]]
    preload: ClassVar[tuple[str, ...]] = ()
    problem_axes: ClassVar[Mapping[str, str]] = {}

    def skip_reason(self, params: Mapping[str, Any]) -> str | None:
        """Return why this combination cannot run, or None when it can."""
        return None

    def prepare(self, params: Mapping[str, Any], cache_dir: Path) -> None:  # noqa: B027
        """Create shared inputs under cache_dir (idempotent, untimed)."""

    @abstractmethod
    def run(self, params: Mapping[str, Any], cache_dir: Path, workdir: Path) -> Measurement:
        """Run one configuration and measure it."""
