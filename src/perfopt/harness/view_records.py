"""Typed records of what the views measured: a cell's attribution, and their overhead.

A cell line's `attribution` holds the three views (stage timers, the psutil sampler,
py-spy) and the oversubscription estimate; an `overhead` line holds what the views cost
a command of fixed work. These records expose the fields the report and the verdicts
read; each keeps the view's whole output as `data`, written back as it was.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class ThreadStates:
    """The thread-state view inside psutil's: runnable threads on average."""

    available: bool
    runnable_mean: float | None


@dataclass(frozen=True)
class PsutilView:
    """The psutil sampler's view of the whole process tree."""

    available: bool | None  # None: the line does not say (older lines)
    reason: str | None
    cores_available: Any
    cpu_utilization_cores: float | None
    utilization_pct_of_available: float | None
    cpu_user_s: float | None
    cpu_system_s: float | None
    peak_rss_bytes: float | None
    read_bytes: float | None
    write_bytes: float | None
    max_threads: Any
    ctx_switches_voluntary: Any
    ctx_switches_involuntary: Any
    iowait_s: float | None
    thread_states: ThreadStates | None
    data: Mapping[str, Any] = field(repr=False)

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> PsutilView:
        """Read the view's output as the line stores it."""
        states = d.get("thread_states")
        return cls(
            available=d.get("available"),
            reason=d.get("reason"),
            cores_available=d.get("cores_available"),
            cpu_utilization_cores=_number(d.get("cpu_utilization_cores")),
            utilization_pct_of_available=_number(d.get("utilization_pct_of_available")),
            cpu_user_s=_number(d.get("cpu_user_s")),
            cpu_system_s=_number(d.get("cpu_system_s")),
            peak_rss_bytes=_number(d.get("peak_rss_bytes")),
            read_bytes=_number(d.get("read_bytes")),
            write_bytes=_number(d.get("write_bytes")),
            max_threads=d.get("max_threads"),
            ctx_switches_voluntary=d.get("ctx_switches_voluntary"),
            ctx_switches_involuntary=d.get("ctx_switches_involuntary"),
            iowait_s=_number(d.get("iowait_s")),
            thread_states=(
                ThreadStates(bool(states.get("available")), _number(states.get("runnable_mean")))
                if isinstance(states, Mapping)
                else None
            ),
            data=d,
        )


@dataclass(frozen=True)
class PyspyView:
    """py-spy's view: sample categories and top functions, from one run."""

    available: bool
    reason: str | None
    samples: int | None
    categories: Mapping[str, float]
    top_functions: tuple[Mapping[str, Any], ...]
    run_seconds: float | None
    attached_to_timed_run: bool
    native: bool | None  # None: from before native frames were recorded
    cost_share_of_target_cpu: float | None
    data: Mapping[str, Any] = field(repr=False)

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> PyspyView:
        """Read the view's output as the line stores it."""
        return cls(
            available=bool(d.get("available", True)),
            reason=d.get("reason"),
            samples=d.get("samples") or None,
            categories=dict(d.get("categories") or {}),
            top_functions=tuple(d.get("top_functions") or ()),
            run_seconds=_number(d.get("run_seconds")),
            attached_to_timed_run=bool(d.get("attached_to_timed_run")),
            native=bool(d["native"]) if "native" in d else None,
            cost_share_of_target_cpu=_number(d.get("cost_share_of_target_cpu")),
            data=d,
        )

    @property
    def sampled_categories(self) -> Mapping[str, float]:
        """The category shares when py-spy took samples, else none."""
        return self.categories if self.samples else {}


@dataclass(frozen=True)
class Oversubscription:
    """Whether the cell ran more busy threads than cores, and why that is the estimate."""

    oversubscribed: bool
    reason: str
    data: Mapping[str, Any] = field(repr=False)


@dataclass(frozen=True)
class Attribution:
    """The three views of where a cell's time went, and the oversubscription estimate."""

    stages: Mapping[str, Any]
    psutil: PsutilView | None
    pyspy: PyspyView | None
    oversubscription: Oversubscription | None
    threadpools: Any
    data: Mapping[str, Any] = field(repr=False)

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> Attribution:
        """Read a line's `attribution` object."""
        ps, spy, over = d.get("psutil"), d.get("pyspy"), d.get("oversubscription")
        return cls(
            stages=dict(d.get("stages") or {}),
            # an empty view reads as no view at all, as the report always showed it
            psutil=PsutilView.from_json(ps) if isinstance(ps, Mapping) and ps else None,
            pyspy=PyspyView.from_json(spy) if isinstance(spy, Mapping) and spy else None,
            oversubscription=(
                Oversubscription(
                    bool(over.get("oversubscribed")), str(over.get("reason", "")), over
                )
                if isinstance(over, Mapping) and over
                else None
            ),
            threadpools=d.get("threadpools"),
            data=d,
        )

    def to_json(self) -> dict[str, Any]:
        """The `attribution` object as a schema 3 line holds it."""
        return dict(self.data)


@dataclass(frozen=True)
class OverheadRecord:
    """The `kind = "overhead"` line: what each view cost a command of fixed work.

    `available` False (or no psutil overhead measured) means it was not measured, and
    `reason` says why.
    """

    available: bool
    reason: str | None
    hz: Any
    rate: Any
    repeats: Any
    median_s: Mapping[str, float]
    seconds: Mapping[str, tuple[float, ...]]
    cpu_cost: Mapping[str, float | None]  # by view: CPU the view used / the command's CPU
    wall_change: Mapping[str, float]  # by view: wall median / bare wall median - 1
    data: Mapping[str, Any] = field(repr=False)

    @classmethod
    def from_json(cls, line: Mapping[str, Any]) -> OverheadRecord:
        """Read an overhead line (its `overhead` object)."""
        o = line.get("overhead") or {}
        views = ("psutil", "pyspy")
        return cls(
            available=bool(o.get("available", True)) and "psutil_overhead" in o,
            reason=o.get("reason"),
            hz=o.get("hz"),
            rate=o.get("rate"),
            repeats=o.get("repeats"),
            median_s=dict(o.get("median_s") or {}),
            seconds={k: tuple(v or ()) for k, v in (o.get("seconds") or {}).items()},
            cpu_cost={v: o.get(f"{v}_cpu_cost") for v in views},
            wall_change={v: float(o[f"{v}_overhead"]) for v in views if f"{v}_overhead" in o},
            data=line,
        )

    def bare_spread(self) -> float | None:
        """Slowest bare run over the fastest, minus one: the noise a change must exceed."""
        runs = self.seconds.get("bare") or ()
        return max(runs) / min(runs) - 1 if len(runs) > 1 and min(runs) > 0 else None

    def to_json(self) -> dict[str, Any]:
        """The overhead line as a schema 3 file holds it."""
        return dict(self.data)


def _number(value: Any) -> float | None:
    """A finite number as float; anything else (missing, None, NaN, text) as None."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) else None
