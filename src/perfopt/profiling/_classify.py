"""Classify py-spy stacks into categories with a rule table (where did the time go)."""

from __future__ import annotations

import linecache
import os
import re
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from perfopt.profiling._stacks import Frame, Stack, parse_raw, parse_record

CATEGORIES = (
    "database IO",
    "file IO",
    "IPC and pickling",
    "Optuna storage",
    "numeric compute",
    "Python compute",
    "waiting or idle",
    "other",
)
TOP_FUNCTIONS = 10
# Why a sample landed in "other": these reasons are start-up and exit cost, not the work.
IMPORTING = "importing modules"
NO_PYTHON_FRAMES = "interpreter start/exit (no Python frames)"
UNMATCHED_NATIVE = "native frames no rule matches"
STARTUP_REASONS = (IMPORTING, NO_PYTHON_FRAMES)


class _View:
    """A frame seen in the context of its stack (what a rule predicate gets)."""

    def __init__(self, frame: Frame, stack: Sequence[Frame], is_leaf: bool) -> None:
        self.frame = frame
        self.stack = stack
        self.is_leaf = is_leaf  # the innermost Python frame: the one executing
        self.path = "/" + frame.file.replace("\\", "/").lower()
        self.function = frame.function.rsplit(".", 1)[-1]  # "Condition.wait" -> "wait"

    @property
    def source(self) -> str:
        """The leaf frame's source line: it names the C call a Python frame is inside."""
        frame = self.frame
        if not self.is_leaf or frame.line is None or not os.path.isabs(frame.file):
            return ""
        return linecache.getline(frame.file, frame.line).strip()

    def under(self, *parts: str) -> bool:
        return any(part in self.path for part in parts)

    def in_file(self, suffix: str, *functions: str) -> bool:
        return self.path.endswith(suffix) and (not functions or self.function in functions)


@dataclass(frozen=True)
class Rule:
    """A category and the test that puts a frame in it (see RULES)."""

    category: str
    description: str
    matches: Callable[[_View], bool]


def _native(pattern: str) -> Callable[[_View], bool]:
    regex = re.compile(pattern, re.I)
    return lambda v: (
        v.frame.native and bool(regex.search(v.frame.function) or regex.search(v.frame.file))
    )


def _leaf_line(pattern: str) -> Callable[[_View], bool]:
    regex = re.compile(pattern)
    return lambda v: v.is_leaf and bool(regex.search(v.source))


_DB_PATHS = (
    "/sqlalchemy/",
    "/psycopg/",
    "/psycopg2/",
    "/sqlite3/",
    "/alembic/",
    "/pandas/io/sql.py",
)
_DB_LINE = r"\.(execute|executemany|executescript|fetchall|fetchone|fetchmany|commit|rollback)\(|\bread_sql|\bsqlite3\.connect\("
_db_native = _native(r"sqlite3|pysqlite|libpq|psycopg")
_db_line = _leaf_line(_DB_LINE)


def _db_client(v: _View) -> bool:
    return v.under(*_DB_PATHS) or _db_native(v) or _db_line(v)


def _optuna_storage(v: _View) -> bool:
    if v.under("/optuna/storages/"):
        return True
    return _db_client(v) and any(
        "/optuna/storages/" in "/" + f.file.replace("\\", "/") for f in v.stack
    )


_WAIT_FUNCTIONS = (
    ("/threading.py", ("wait", "wait_for", "join", "_wait_for_tstate_lock", "acquire")),
    ("/selectors.py", ("select",)),
    # _recv is the raw read loop: it blocks until the other end sends (a worker's
    # watcher thread, a server waiting for leaves); unpickling is counted apart
    ("/multiprocessing/connection.py", ("wait", "poll", "_poll", "_recv")),
    ("/multiprocessing/popen_fork.py", ("wait", "poll")),
    ("/multiprocessing/pool.py", ("wait", "get", "join")),
    ("/multiprocessing/process.py", ("join",)),
    ("/multiprocessing/synchronize.py", ("wait", "wait_for", "acquire")),
    ("/multiprocessing/resource_tracker.py", ("main",)),
    ("/multiprocessing/forkserver.py", ("main",)),
    ("/subprocess.py", ("wait", "_wait", "_try_wait", "communicate", "_communicate")),
    ("/concurrent/futures/_base.py", ("result", "exception", "wait", "as_completed")),
    ("/queue.py", ("get", "put", "join")),
    ("/socket.py", ("accept",)),
)
# Worker loops whose innermost frame is the loop itself only while blocked on a queue.
_IDLE_LOOPS = (
    ("/concurrent/futures/thread.py", ("_worker",)),
    ("/concurrent/futures/process.py", ("_process_worker",)),
    ("/multiprocessing/pool.py", ("worker",)),
)


def _waiting(v: _View) -> bool:
    if any(v.in_file(suffix, *funcs) for suffix, funcs in _WAIT_FUNCTIONS):
        return True
    return v.is_leaf and any(v.in_file(suffix, *funcs) for suffix, funcs in _IDLE_LOOPS)


_IMPORT_FUNCTIONS = ("_find_and_load", "_load_unlocked", "exec_module")


def _importing(v: _View) -> bool:
    # Decided on the whole stack: time under an import is start-up cost, whatever the
    # module body happens to run (numpy's __init__ is not numeric compute).
    return any(
        f.file.startswith("<frozen importlib") and f.function in _IMPORT_FUNCTIONS for f in v.stack
    )


# Priority order: walking from the leaf towards the root, the first frame that any rule
# matches decides, and for that frame the first matching rule wins. Source-line rules
# look only at the innermost Python frame, whose line names the C function it is in
# (sqlite3's execute, time.sleep and numpy's ufuncs leave no Python frame of their own).
# The source line is read from the file (linecache), so code run with `python -c`
# (file "<string>") gets no line rules. The import rule looks at the whole stack.
# A stack no rule matches is "Python compute" if it has Python frames, else "other".
RULES: tuple[Rule, ...] = (
    Rule("other", IMPORTING, _importing),
    Rule(
        "Optuna storage", "optuna/storages frames, or DB client calls below them", _optuna_storage
    ),
    Rule(
        "waiting or idle",
        "blocking waits: threading, selectors, queue get, process wait/join",
        _waiting,
    ),
    Rule(
        "waiting or idle",
        "native sleeps, polls, futex and GIL waits (--native)",
        _native(
            r"nanosleep|epoll_wait|^poll$|^select$|pselect|futex|pthread_cond|sem_.*wait|take_gil|time_sleep|acquire_lock"
        ),
    ),
    Rule(
        "database IO",
        "sqlite3, SQLAlchemy, psycopg, pandas read_sql",
        lambda v: v.under(*_DB_PATHS) or _db_native(v),
    ),
    Rule(
        "IPC and pickling",
        "pickle, multiprocessing connections and queues, dask comms",
        lambda v: v.under(
            "/pickle.py",
            "/copyreg.py",
            "/multiprocessing/connection.py",
            "/multiprocessing/queues.py",
            "/multiprocessing/reduction.py",
            "/multiprocessing/managers.py",
            "/cloudpickle/",
            "/dill/",
            "/distributed/protocol/",
            "/distributed/comm/",
            "/msgpack/",
            "/grpc/",
        ),
    ),
    Rule(
        "IPC and pickling",
        "native pickling and socket/pipe transfer (--native)",
        _native(r"_pickle|pickle|^recv|^send|recvmsg|sendmsg"),
    ),
    Rule(
        "file IO",
        "h5py, pyarrow, pandas readers/writers, numpy load/save, torch.load",
        lambda v: v.under(
            "/h5py/",
            "/pyarrow/",
            "/pandas/io/",
            "/fastparquet/",
            "/_pyio.py",
            "/shutil.py",
            "/gzip.py",
            "/zipfile.py",
            "/tarfile.py",
            "/csv.py",
            "/numpy/lib/_npyio_impl.py",
            "/numpy/lib/format.py",
            "/torch/serialization.py",
        ),
    ),
    Rule(
        "file IO",
        "native positioned reads/writes, fsync, HDF5 (--native; plain read/write may be a pipe)",
        _native(r"^(pread64|pwrite64|preadv|pwritev|fsync|fdatasync)$|hdf5|^H5"),
    ),
    Rule(
        "numeric compute",
        "numpy, numba, torch, scipy, pandas internals, BLAS",
        lambda v: v.under(
            "/numpy/",
            "/numba/",
            "/llvmlite/",
            "/torch/",
            "/scipy/",
            "/pandas/core/",
            "/pandas/_libs/",
            "/sklearn/",
            "/numexpr/",
        ),
    ),
    Rule(
        "numeric compute",
        "native BLAS, OpenMP, numpy and torch kernels (--native)",
        _native(r"openblas|blas|lapack|mkl|gomp|libomp|libtorch|dnnl|_multiarray|numba"),
    ),
    Rule("database IO", "innermost line calls execute/fetch*/commit or read_sql", _db_line),
    Rule(
        "IPC and pickling",
        "innermost line pickles or sends/receives on a connection or queue",
        _leaf_line(
            r"\b(pickle|cloudpickle|dill)\.(dumps?|loads?)\(|\.(send|recv|send_bytes|recv_bytes|sendall|put|put_nowait|get_nowait)\("
        ),
    ),
    Rule(
        "file IO",
        "innermost line opens, reads or writes a file",
        _leaf_line(
            r"\bopen\(|\.(read|readline|readlines|readinto|write|writelines|flush|seek|tofile)\(|read_direct\(|\bnp\.(load|save|savez|fromfile)|\b(to|read)_(parquet|csv|hdf|feather)\(|\bos\.(read|write|fsync)\("
        ),
    ),
    Rule(
        "numeric compute",
        "innermost line calls numpy, torch or scipy",
        _leaf_line(r"\b(np|numpy|torch|scipy)\.\w|\.backward\("),
    ),
    Rule(
        "waiting or idle",
        "innermost line sleeps, waits, joins, polls or selects",
        _leaf_line(
            r"\bsleep\(|\.wait\(|\.join\(\s*(\)|timeout)|\.acquire\(|\bselect\(|\.poll\(|\.result\(|\bwaitpid\(|\bwait\(|\.communicate\(|\.get\(\s*(block|timeout)"
        ),
    ),
)


def _classify(stack: Stack) -> tuple[str, str]:
    """Return (category, reason): the rule that decided, or why no rule did."""
    frames = stack.frames
    if not frames:
        return "other", NO_PYTHON_FRAMES
    python = [i for i, f in enumerate(frames) if not f.native]
    leaf = python[-1] if python else -1
    for i in range(len(frames) - 1, -1, -1):
        view = _View(frames[i], frames, i == leaf)
        for rule in RULES:
            if rule.matches(view):
                return rule.category, rule.description
    return ("Python compute", "no rule matched") if python else ("other", UNMATCHED_NATIVE)


def classify_stack(line: str) -> str:
    """Return the category of one raw py-spy record ("frame;frame;... count")."""
    stack = parse_record(line.rstrip("\r\n"))
    if stack is None:
        raise ValueError(f"not a py-spy raw record: {line[:80]!r}")
    return _classify(stack)[0]


def _short_path(path: str) -> str:
    parts = path.replace("\\", "/").split("/")
    for marker in ("site-packages", "dist-packages"):
        if marker in parts:
            return "/".join(parts[parts.index(marker) + 1 :])
    if len(parts) > 3 and "lib" in parts and any(p.startswith("python3") for p in parts):
        return "/".join(parts[-1:])  # standard library: the module file is enough
    return "/".join(parts[-2:]) if len(parts) > 2 else path


# A process that waits (start-up and idle helper threads aside) while another process
# of the tree works is a supervisor: a parent joining its workers, a Dask scheduler, a
# resource tracker. Its samples say where it sat, not where the work went, so the
# working view leaves them out, as it leaves out helper threads blocked in a wait. A
# parent of sampled processes needs to wait half its time to count, any other process
# nearly all of it (a worker stalled on a queue must stay in view); and either must work
# less than half as much as the busiest one (a driver whose scheduler thread works stays).
SUPERVISOR_WAITING = 0.9
PARENT_WAITING = 0.5
SUPERVISOR_BUSY = 0.5


def _shares(counts: Counter[str], keys: Iterable[str], total: int) -> dict[str, float]:
    """counts[k] / total for each key, rounded (0.0 for an empty view)."""
    return {k: round(counts[k] / total, 4) if total else 0.0 for k in keys}


def _helper_thread(stack: Stack) -> bool:
    """A thread started with threading.Thread (not the main thread of its process)."""
    first = stack.frames[0] if stack.frames else None
    return (
        first is not None
        and first.function.rsplit(".", 1)[-1] == "_bootstrap"
        and first.file.endswith("threading.py")
    )


def classify_stacks(lines: Iterable[str]) -> dict[str, Any]:
    """Classify py-spy raw lines: sample share per category, top functions, per process.

    Returns {samples, unparsed_lines, categories: {category: share 0..1} (every
    category, in CATEGORIES order), category_samples, other_reasons: {why a sample is
    "other": share of all samples}, top_functions: [{function, file, share, category}],
    processes: [{pid, cmdline, samples, top_category, supervisor}], working_categories:
    the category shares without supervisor processes and idle helper threads,
    working_other_reasons: other_reasons as shares of that view, working_left_out: {what
    was left out: samples}}. Top functions are the innermost
    Python frames (self time).
    """
    by_category: Counter[str] = Counter()
    other_reasons: Counter[str] = Counter()
    by_function: Counter[tuple[str, str]] = Counter()
    function_categories: dict[tuple[str, str], Counter[str]] = defaultdict(Counter)
    by_process: dict[int, Counter[str]] = defaultdict(Counter)
    kept: dict[int, Counter[str]] = defaultdict(Counter)  # without idle helper threads
    kept_reasons: dict[int, Counter[str]] = defaultdict(Counter)  # of their "other"
    startup: Counter[int] = Counter()
    cmdlines: dict[int, str] = {}
    parents: set[int] = set()
    idle_helpers = unparsed = 0
    for stack in parse_raw(lines):
        if stack is None:
            unparsed += 1
            continue
        category, reason = _classify(stack)
        n = stack.count
        by_category[category] += n
        if category == "other":
            other_reasons[reason] += n
        python = [f for f in stack.frames if not f.native]
        key = (
            (python[-1].function, _short_path(python[-1].file))
            if python
            else ("(no Python frames)", "")
        )
        by_function[key] += n
        function_categories[key][category] += n
        pid = 0
        if stack.processes:
            pid, cmdline = stack.processes[-1]
            cmdlines.setdefault(pid, " ".join(cmdline.split())[:120])
            parents.update(p for p, _ in stack.processes[:-1])
        by_process[pid][category] += n
        if category == "waiting or idle" and _helper_thread(stack):
            idle_helpers += n
            continue
        kept[pid][category] += n
        if category == "other":
            kept_reasons[pid][reason] += n
        if reason in STARTUP_REASONS:
            startup[pid] += n
    total = sum(by_category.values())
    supervisors = _supervisors(kept, startup, parents)
    working: Counter[str] = Counter()
    working_reasons: Counter[str] = Counter()
    for pid, counts in kept.items():
        if pid not in supervisors:
            working.update(counts)
            working_reasons.update(kept_reasons[pid])
    view, view_reasons = (working, working_reasons) if working else (by_category, other_reasons)
    view_total = sum(view.values())
    left_out = {
        "supervisor processes": sum(sum(kept[pid].values()) for pid in supervisors),
        "idle helper threads": idle_helpers,
    }
    return {
        "samples": total,
        "unparsed_lines": unparsed,
        "categories": _shares(by_category, CATEGORIES, total),
        "category_samples": {c: by_category[c] for c in CATEGORIES},
        "other_reasons": _shares(other_reasons, [r for r, _ in other_reasons.most_common()], total),
        "working_categories": _shares(view, CATEGORIES, view_total),
        "working_other_reasons": _shares(
            view_reasons, [r for r, _ in view_reasons.most_common()], view_total
        ),
        "working_left_out": {k: v for k, v in left_out.items() if v and working},
        "top_functions": [
            {
                "function": function,
                "file": file,
                "share": round(n / total, 4),
                "category": function_categories[(function, file)].most_common(1)[0][0],
            }
            for (function, file), n in by_function.most_common(TOP_FUNCTIONS)
        ],
        "processes": [
            {
                "pid": pid,
                "cmdline": cmdlines[pid],
                "samples": sum(counts.values()),
                "top_category": counts.most_common(1)[0][0],
                "supervisor": pid in supervisors,
            }
            for pid, counts in sorted(by_process.items(), key=lambda kv: -sum(kv[1].values()))
            if pid in cmdlines
        ],
    }


def _supervisors(
    kept: dict[int, Counter[str]], startup: Counter[int], parents: set[int]
) -> set[int]:
    """Processes that waited, start-up aside, while another process of the tree worked."""
    shares: dict[int, tuple[float, int]] = {}  # pid -> (waiting share, busy samples)
    for pid, counts in kept.items():
        core = sum(counts.values()) - startup[pid]
        if core > 0:
            waiting = counts["waiting or idle"]
            shares[pid] = (waiting / core, core - waiting)
    busiest = max((busy for _, busy in shares.values()), default=0)
    idle = {
        pid
        for pid, (waiting, busy) in shares.items()
        if waiting >= (PARENT_WAITING if pid in parents else SUPERVISOR_WAITING)
        and busy < SUPERVISOR_BUSY * busiest
    }
    return idle if len(idle) < len(shares) else set()
