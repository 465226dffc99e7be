"""Where did the time go: stage timers, process-tree sampling, thread states, py-spy.

Four views of a run: `StageTimer` (named stages inside the code), `ProcessTreeSampler`
(psutil: CPU, IO, context switches, threads, RSS of a process and its descendants, and
with it `ThreadStates`, the kernel's state of every thread: running, runnable, blocked on
disk, network, a pipe or asleep) and `PySpyRecorder` (py-spy samples, with native frames
where they work, classified by `classify_stacks` into `CATEGORIES`). `verdict` puts them
together as a value {"kind": one of `KINDS`, "text", "shares"}; `oversubscription`
compares compute threads with cores. `profile_command` does it all for any command.
This package knows nothing of workloads or the harness: it watches a process and times
stages.
"""

from __future__ import annotations

from perfopt.profiling._attribution import attribute
from perfopt.profiling._classify import CATEGORIES, RULES, Rule, classify_stack, classify_stacks
from perfopt.profiling._command import measure_overhead, profile_command, views_overhead
from perfopt.profiling._format import format_profile
from perfopt.profiling._pyspy import PySpyRecorder, native_status, pyspy_available
from perfopt.profiling._sampler import ProcessTreeSampler
from perfopt.profiling._threads import oversubscription, threadpools
from perfopt.profiling._tstates import ThreadStates
from perfopt.profiling._verdict import KINDS, verdict, verdict_text
from perfopt.stage_timer import StageTimer

__all__ = [
    "CATEGORIES",
    "KINDS",
    "RULES",
    "ProcessTreeSampler",
    "PySpyRecorder",
    "Rule",
    "StageTimer",
    "ThreadStates",
    "attribute",
    "classify_stack",
    "classify_stacks",
    "format_profile",
    "measure_overhead",
    "native_status",
    "oversubscription",
    "profile_command",
    "pyspy_available",
    "threadpools",
    "verdict",
    "verdict_text",
    "views_overhead",
]
