"""The parent's watchers of a cell's child: the tree sampler (psutil and thread states)
and the py-spy recorder, and the verdict value every matrix cell carries.

Thin glue over perfopt.profiling that degrades instead of failing: when profiling or
py-spy is unavailable the view records why, and the other views go on. The py-spy summary
carries the thread states and the costs of its own run, so a verdict pairs views of one
run even when py-spy watched a run other than the timed median.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)
_warned: set[str] = set()


def _warn_once(key: str, message: str) -> None:
    if key not in _warned:
        _warned.add(key)
        log.warning(message)


def pyspy_status() -> tuple[bool, str]:
    """Return (usable, reason) for the py-spy view on this machine."""
    try:
        from perfopt.profiling import pyspy_available
    except Exception as exc:  # noqa: BLE001 - optional view
        return False, f"perfopt.profiling not importable: {type(exc).__name__}: {exc}"
    status = pyspy_available()
    if isinstance(status, tuple):
        return bool(status[0]), str(status[1] or "")
    if isinstance(status, dict):
        return bool(status.get("available")), str(status.get("reason", ""))
    return bool(status), "" if status else "py-spy is not installed or not permitted"


class CellViews:
    """Start the sampler (and py-spy) on a child pid; `stop` returns both summaries.

    py-spy records native frames where it can (not with `nonblocking`: it reads them only
    while the target is paused), and its summary says whether it did and why not.
    """

    def __init__(
        self, pid: int, out_dir: Path, pyspy: bool, hz: float = 10.0, nonblocking: bool = False
    ) -> None:
        self.pid = pid
        self.nonblocking = nonblocking
        self.out_dir = out_dir
        self.pyspy = pyspy
        self.hz = hz
        self._sampler: Any = None
        self._recorder: Any = None
        self._pyspy_reason = "py-spy not attached to this run"

    def start(self) -> None:
        """Attach the watchers; failures become recorded reasons, never exceptions."""
        try:
            from perfopt.profiling import ProcessTreeSampler

            self._sampler = ProcessTreeSampler(self.pid, hz=self.hz)
            self._sampler.start()
        except Exception as exc:  # noqa: BLE001
            self._sampler = f"psutil view unavailable: {type(exc).__name__}: {exc}"
            _warn_once("psutil", self._sampler)
        if not self.pyspy:
            return
        usable, reason = pyspy_status()
        if not usable:
            self._pyspy_reason = reason or "py-spy unavailable"
            _warn_once("pyspy", f"py-spy view off: {self._pyspy_reason}")
            return
        try:
            from perfopt.profiling import PySpyRecorder

            self.out_dir.mkdir(parents=True, exist_ok=True)
            self._recorder = PySpyRecorder(
                self.pid, self.out_dir, rate=50, nonblocking=self.nonblocking
            )
            self._recorder.start()
            self._recorder.wait_sampling()  # so the run starts watched
        except Exception as exc:  # noqa: BLE001
            self._recorder = None
            self._pyspy_reason = f"py-spy failed to start: {type(exc).__name__}: {exc}"
            _warn_once("pyspy", self._pyspy_reason)

    def stop(self) -> tuple[dict[str, Any], dict[str, Any]]:
        """Stop both watchers and return (psutil summary, py-spy summary).

        Each summary gets its watcher's CPU as a share of the watched run's CPU
        (`cost_share_of_target_cpu`); the py-spy summary also gets the thread states of
        its run (`thread_states`), for the verdict.
        """
        if isinstance(self._sampler, str) or self._sampler is None:
            psutil_summary: dict[str, Any] = {
                "available": False,
                "reason": self._sampler or "not started",
            }
        else:
            try:
                psutil_summary = dict(self._sampler.stop())
                psutil_summary.setdefault("available", True)
            except Exception as exc:  # noqa: BLE001
                psutil_summary = {"available": False, "reason": f"{type(exc).__name__}: {exc}"}
        if self._recorder is None:
            pyspy_summary: dict[str, Any] = {"available": False, "reason": self._pyspy_reason}
        else:
            try:
                pyspy_summary = dict(self._recorder.stop())
            except Exception as exc:  # noqa: BLE001
                pyspy_summary = {"available": False, "reason": f"{type(exc).__name__}: {exc}"}
        _record_costs(psutil_summary, None if self._recorder is None else pyspy_summary)
        return psutil_summary, pyspy_summary


def _record_costs(psutil_summary: dict[str, Any], pyspy_summary: dict[str, Any] | None) -> None:
    """Put each watcher's CPU as a share of the run's CPU on its summary (in place)."""
    if not psutil_summary.get("available", True) or "cpu_user_s" not in psutil_summary:
        return
    target = float(psutil_summary["cpu_user_s"]) + float(psutil_summary["cpu_system_s"])
    sampler = psutil_summary.get("sampler_cpu_s")
    psutil_summary["cost_share_of_target_cpu"] = (
        round(sampler / target, 4) if sampler is not None and target > 0 else None
    )
    if pyspy_summary is None:
        return
    spy = pyspy_summary.get("pyspy_cpu_s")
    pyspy_summary["target_cpu_s"] = round(target, 3)
    pyspy_summary["cost_share_of_target_cpu"] = (
        round(spy / target, 4) if spy is not None and target > 0 else None
    )
    if psutil_summary.get("thread_states"):
        pyspy_summary["thread_states"] = psutil_summary["thread_states"]


def judge(
    psutil_summary: dict[str, Any],
    pyspy_summary: dict[str, Any],
    child_pid: int,
    pools: Any,
    status: str | None = None,
) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
    """Return (oversubscription check, verdict value) when profiling is available.

    The verdict is {"kind", "text", "shares", ...} (`perfopt.profiling.verdict`); with
    `status` other than "ok" (the cell failed or timed out) its kind is "failed" and it
    says no bound-ness verdict.
    """
    try:
        from perfopt.profiling import oversubscription, verdict
    except Exception:  # noqa: BLE001
        return None, None
    over = None
    if psutil_summary.get("available", True) and "samples" in psutil_summary:
        try:
            by_pid = {child_pid: pools} if isinstance(pools, list) else None
            over = oversubscription(psutil_summary, threadpools_by_pid=by_pid)
        except Exception as exc:  # noqa: BLE001
            over = {"available": False, "reason": f"{type(exc).__name__}: {exc}"}
    try:
        value = verdict(
            psutil_summary,
            pyspy_summary,
            exit_code=None if status in (None, "ok") else 1,
            timed_out=status == "timeout",
            pools=pools if isinstance(pools, list) else None,
        )
        if status not in (None, "ok"):
            value["text"] = f"the cell {status}: no bound-ness verdict"
    except Exception as exc:  # noqa: BLE001
        value = {"kind": "unclassified", "text": f"no verdict ({type(exc).__name__}: {exc})"}
    return over, value


def measure_overhead_line() -> dict[str, Any]:
    """Measure each view's overhead on a CPU-bound Python loop (for the report).

    Views: the sampler (psutil and thread states), py-spy, and py-spy --native where it
    works here (`pyspy_native_cpu_cost`; else `pyspy_native_reason` says why).
    """
    import sys

    # a fixed amount of work, not a fixed duration, so that slowdowns show as time
    code = "s = 0\nfor i in range(6_000_000):\n    s += i * i\n"
    try:
        from perfopt.profiling import measure_overhead

        return {"available": True, **measure_overhead([sys.executable, "-c", code], repeats=3)}
    except Exception as exc:  # noqa: BLE001
        return {"available": False, "reason": f"{type(exc).__name__}: {exc}"}
