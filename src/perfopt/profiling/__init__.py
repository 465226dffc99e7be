"""Where did the time go: stage timers, process-tree sampling, py-spy attribution.

Three independent views of a run: `StageTimer` (named stages inside the code),
`ProcessTreeSampler` (psutil: CPU, IO, context switches, threads, RSS of a process and
its descendants) and `PySpyRecorder` (py-spy samples classified by `classify_stacks`
into `CATEGORIES`), plus `oversubscription` (compute threads against cores) and a
one-line `verdict`. `profile_command` puts them together for any command. This package
knows nothing of workloads or the harness: it watches a process and times stages.
"""

from __future__ import annotations

from perfopt.profiling._classify import CATEGORIES, RULES, Rule, classify_stack, classify_stacks
from perfopt.profiling._command import measure_overhead, profile_command
from perfopt.profiling._format import format_profile
from perfopt.profiling._pyspy import PySpyRecorder, pyspy_available
from perfopt.profiling._sampler import ProcessTreeSampler
from perfopt.profiling._threads import oversubscription, threadpools
from perfopt.profiling._timer import StageTimer
from perfopt.profiling._verdict import verdict

__all__ = [
    "CATEGORIES",
    "RULES",
    "ProcessTreeSampler",
    "PySpyRecorder",
    "Rule",
    "StageTimer",
    "classify_stack",
    "classify_stacks",
    "format_profile",
    "measure_overhead",
    "oversubscription",
    "profile_command",
    "pyspy_available",
    "threadpools",
    "verdict",
]
