"""`perfopt optimize --status`: how far the studies in a storage are, read while they run.

Reads the storage only (no trial is created, nothing is locked beyond a read): per
study the trials in each state, the trials that count toward --n-trials, the best
value, when the last trial finished, and the finishing rate over the last 5 minutes
with the time left at that rate. Safe to run from another shell or host while
`perfopt optimize` runs on the same storage.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from perfopt.errors import UserError
from perfopt.optimize.storages import StorageSpec, open_storage
from perfopt.units import fmt_duration, fmt_number

RATE_WINDOW_S = 300.0


@dataclass
class StudyStatus:
    """One study's progress as read from its storage."""

    name: str
    storage: str  # masked URL
    states: dict[str, int] = field(default_factory=dict)
    counted: int = 0
    best: list[float] | None = None
    best_number: int | None = None
    last_finished_ago_s: float | None = None
    finished_per_min: float | None = None  # over the last RATE_WINDOW_S seconds


def read_status(spec: StorageSpec, study_name: str | None = None) -> list[StudyStatus]:
    """The status of `study_name` in spec's storage, or of every study there when None."""
    import optuna

    from perfopt.optimize.studies import counted_trials

    if not spec.storage_kind.multi_process:
        raise UserError("--status reads a storage other processes write: memory has none to read")
    _refuse_missing_file(spec)
    storage = open_storage(spec)
    names = [s.study_name for s in optuna.get_all_study_summaries(storage, include_best_trial=False)]
    if study_name is not None:
        if study_name not in names:
            have = ", ".join(sorted(names)) or "none"
            raise UserError(f"no study {study_name!r} in {spec.masked} (studies there: {have})")
        names = [study_name]
    now = time.time()
    out = []
    for name in sorted(names):
        study = optuna.load_study(study_name=name, storage=storage)
        trials = study.get_trials(deepcopy=False)
        st = StudyStatus(name, spec.masked)
        for t in trials:
            st.states[t.state.name] = st.states.get(t.state.name, 0) + 1
        st.counted = counted_trials(study)
        ends = [t.datetime_complete.timestamp() for t in trials if t.datetime_complete]
        if ends:
            st.last_finished_ago_s = max(now - max(ends), 0.0)
            recent = [e for e in ends if now - e <= RATE_WINDOW_S]
            st.finished_per_min = 60.0 * len(recent) / RATE_WINDOW_S
        _best(study, st)
        out.append(st)
    return out


def _refuse_missing_file(spec: StorageSpec) -> None:
    """A file storage that does not exist is an error, not a new empty file."""
    path = spec.storage_kind.file_path(spec.url)
    if path is not None and not path.exists():
        raise UserError(
            f"--status: {path} does not exist ({spec.origin}); give the run's --storage "
            "(or set its URL variable) and --study-name"
        )


def _best(study: Any, st: StudyStatus) -> None:
    complete = [t for t in study.get_trials(deepcopy=False) if t.state.name == "COMPLETE"]
    if not complete:
        return
    if len(study.directions) == 1:
        t = study.best_trial
        st.best, st.best_number = [float(t.value)], t.number
    else:  # several objectives: no single best; report the front's size via best_number None
        st.best = None


def format_status(statuses: list[StudyStatus], n_trials: int | None = None) -> str:
    """One block per study, in words."""
    if not statuses:
        return "no studies in this storage yet"
    lines = []
    for st in statuses:
        states = ", ".join(f"{n} {k.lower()}" for k, n in sorted(st.states.items())) or "no trials"
        target = f"/{n_trials}" if n_trials else ""
        lines.append(f"study {st.name} in {st.storage}")
        lines.append(f"  trials: {states}; counted toward --n-trials: {st.counted}{target}")
        if st.best is not None:
            lines.append(f"  best value {fmt_number(st.best[0])} (trial {st.best_number})")
        if st.last_finished_ago_s is not None:
            rate = st.finished_per_min or 0.0
            line = (
                f"  last trial finished {fmt_duration(st.last_finished_ago_s)} ago; "
                f"{rate:.1f} trials/min over the last {fmt_duration(RATE_WINDOW_S)}"
            )
            if n_trials and rate > 0 and st.counted < n_trials:
                line += f", about {fmt_duration(60.0 * (n_trials - st.counted) / rate)} left at that rate"
            lines.append(line)
    return "\n".join(lines)
