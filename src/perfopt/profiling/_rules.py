"""The rule table that names the code a py-spy stack is in (one category per stack).

Walking from the innermost frame towards the root, the first frame that a rule matches
decides, and for that frame the first matching rule wins. Native frames (py-spy
--native) of the C library, the dynamic loader and the interpreter itself are
see-through unless a rule names them (time_sleep, take_gil, preadv2 decide; memcpy and
PyObject_Call do not). A stack no rule matches is "unclassified", never compute: Python
compute needs positive evidence, an innermost Python frame with nothing below it but
the interpreter, which only a --native recording can show.
"""

from __future__ import annotations

import linecache
import os
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cached_property

from perfopt.profiling._stacks import Frame, Stack

CATEGORIES = (
    "database IO",
    "file IO",
    "network IO",
    "IPC and pickling",
    "Optuna storage",
    "numeric compute",
    "Python compute",
    "waiting or idle",
    "start-up",
    "unclassified",
)
# Reasons that matter beyond the category (the verdict reads them).
IMPORTING = "importing modules"
NO_PYTHON_FRAMES = "interpreter start/exit (no Python frames)"
UNMATCHED_NATIVE = "native code no rule names"
NO_NATIVE = "a Python frame, and no native frames recorded to say what it ran"
PYTHON_CODE = "the innermost frame is Python code (nothing below it but the interpreter)"
DB_WAIT = "blocked inside a database client (socket, poll, lock)"
NET_WAIT = "blocked on a socket (poll/select under socket code)"
GIL_WAIT = "waiting for the GIL (another thread runs Python)"
STARTUP_REASONS = (IMPORTING, NO_PYTHON_FRAMES)

# C library, loader, vDSO and the interpreter: frames that do not say what the work is.
_SEE_THROUGH = re.compile(
    r"^(libc[.-]|libpthread|ld-linux|ld-musl|libdl|librt|libm[.-]|\[vdso\]|libpython|python\d|python$|libgcc_s|libstdc\+\+)"
)


# The interpreter's own C sources, where its debug information names them (py-spy then
# gives "long_add (.../Objects/longobject.c:123)"); the extension modules under Modules/
# (_sqlite, _socket, _pickle, time) are named by the rules first.
_CPYTHON_SOURCE = re.compile(
    r"/(Objects|Python|Include|Parser|Modules|Programs)/(.+/)?[^/]+\.[ch]$"
)


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

    @cached_property
    def stack_paths(self) -> tuple[str, ...]:
        return tuple("/" + f.file.replace("\\", "/").lower() for f in self.stack)

    def under(self, *parts: str) -> bool:
        return any(part in self.path for part in parts)

    def in_file(self, suffix: str, *functions: str) -> bool:
        return self.path.endswith(suffix) and (not functions or self.function in functions)

    def stack_has(self, predicate: Callable[[Frame, str], bool]) -> bool:
        return any(predicate(f, p) for f, p in zip(self.stack, self.stack_paths, strict=True))


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


def _native_function(pattern: str) -> Callable[[_View], bool]:
    regex = re.compile(pattern)
    return lambda v: v.frame.native and bool(regex.search(v.frame.function))


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
_DB_NATIVE = re.compile(r"sqlite3|pysqlite|libpq|psycopg", re.I)
_DB_LINE = r"\.(execute|executemany|executescript|fetchall|fetchone|fetchmany|commit|rollback)\(|\bread_sql|\bsqlite3\.connect\("
_db_line = _leaf_line(_DB_LINE)


def _db_frame(frame: Frame, path: str) -> bool:
    if frame.native:
        return bool(_DB_NATIVE.search(frame.file) or _DB_NATIVE.search(frame.function))
    return any(part in path for part in _DB_PATHS)


def _db_client(v: _View) -> bool:
    return _db_frame(v.frame, v.path) or _db_line(v)


def _optuna_frame(frame: Frame, path: str) -> bool:
    return "/optuna/storages/" in path


# Native calls that block: sleeps, polls, futexes, GIL and lock waits, socket calls.
_BLOCKING = re.compile(
    r"nanosleep|epoll_wait|epoll_pwait|^poll$|^__poll|^ppoll|^select$|pselect|futex|pthread_cond|"
    r"sem_.*wait|take_gil|time_sleep|acquire_lock|lock_PyThread|^(__libc_)?(recv|recvfrom|"
    r"recvmsg|send|sendto|sendmsg|accept4?|connect)$"
)
_SOCKET_NATIVE = r"^(__libc_)?(recv|recvfrom|recvmsg|recvmmsg|send|sendto|sendmsg|sendmmsg|accept4?|connect)$|^sock_|_socket\.cpython|_ssl\.cpython|libssl"
_SOCKET_PATHS = ("/socket.py", "/ssl.py", "/http/client.py", "/urllib3/", "/requests/",
                 "/httpx/", "/httpcore/", "/aiohttp/")  # fmt: skip


def _blocking_native(v: _View) -> bool:
    return v.frame.native and bool(_BLOCKING.search(v.frame.function))


def _socket_frame(frame: Frame, path: str) -> bool:
    if frame.native:
        return bool(re.search(_SOCKET_NATIVE, frame.function) or "_socket." in frame.file)
    return any(part in path for part in _SOCKET_PATHS)


def _optuna_storage(v: _View) -> bool:
    if v.under("/optuna/storages/"):
        return True
    return (_db_client(v) or _blocking_native(v)) and v.stack_has(_optuna_frame)


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


# Priority order (see the module docstring). Source-line rules look only at the
# innermost Python frame, whose line names the C function it is in when no native
# frames were recorded (sqlite3's execute, time.sleep and numpy's ufuncs leave no Python
# frame of their own); the line is read from the file (linecache), so code run with
# `python -c` (file "<string>") gets no line rules. The import rule looks at the whole
# stack, and so do the rules for waits inside a database client or socket code.
RULES: tuple[Rule, ...] = (
    Rule("start-up", IMPORTING, _importing),
    Rule(
        "Optuna storage", "optuna/storages frames, or DB client calls below them", _optuna_storage
    ),
    Rule(
        "database IO",
        DB_WAIT,
        lambda v: _blocking_native(v) and v.stack_has(_db_frame),
    ),
    Rule(
        "network IO",
        NET_WAIT,
        lambda v: _blocking_native(v) and v.stack_has(_socket_frame),
    ),
    Rule(
        "waiting or idle",
        GIL_WAIT,
        _native_function(r"^take_gil$|^drop_gil$|^PyEval_RestoreThread$|^PyEval_AcquireThread$"),
    ),
    Rule(
        "waiting or idle",
        "blocking waits: threading, selectors, queue get, process wait/join",
        _waiting,
    ),
    Rule(
        "waiting or idle",
        "native sleeps, polls, futex and GIL waits (--native)",
        _native_function(
            r"nanosleep|epoll_wait|epoll_pwait|^poll$|^__poll|^ppoll|^select$|pselect|futex|pthread_cond|sem_.*wait|take_gil|time_sleep|acquire_lock|^wait4$|^waitid$|^__waitpid"
        ),
    ),
    Rule(
        "database IO",
        "sqlite3, SQLAlchemy, psycopg, libpq, pandas read_sql",
        lambda v: _db_frame(v.frame, v.path),
    ),
    Rule(
        "network IO",
        "socket calls and clients: socket, ssl, http.client, urllib3, requests, httpx",
        lambda v: _socket_frame(v.frame, v.path),
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
    Rule("IPC and pickling", "native pickling (--native)", _native(r"_pickle|pickle")),
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
        _native(
            r"^(__libc_)?(pread64|pwrite64|preadv2?|pwritev2?|fsync|fdatasync|sendfile|copy_file_range)$|hdf5|^H5"
        ),
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
        "native BLAS/LAPACK, OpenMP, numpy, numba-compiled code, torch/oneDNN kernels (--native)",
        _native(
            r"openblas|blas|lapack|mkl|gomp|libomp|iomp|libtorch|libc10|dnnl|mkldnn|_multiarray|_umath|numba|llvmlite|sleef|pocketfft|scipy"
        ),
    ),
    Rule("database IO", "innermost line calls execute/fetch*/commit or read_sql", _db_line),
    Rule(
        "network IO",
        "innermost line calls a socket method",
        _leaf_line(
            r"\.(sendall|recv_into|recvfrom|sendto|accept)\(|\bsocket\.(create_connection|socket)\("
        ),
    ),
    Rule(
        "IPC and pickling",
        "innermost line pickles or sends/receives on a connection or queue",
        _leaf_line(
            r"\b(pickle|cloudpickle|dill)\.(dumps?|loads?)\(|\.(send|recv|send_bytes|recv_bytes|put|put_nowait|get_nowait)\("
        ),
    ),
    Rule(
        "file IO",
        "innermost line opens, reads or writes a file",
        _leaf_line(
            r"\bopen\(|\.(read|readline|readlines|readinto|write|writelines|flush|seek|tofile)\(|read_direct\(|\bnp\.(load|save|savez|fromfile)|\b(to|read)_(parquet|csv|hdf|feather)\(|\bos\.(read|write|fsync|pread|preadv|pwrite)\("
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


def see_through(frame: Frame) -> bool:
    """A native frame of the C library, loader or interpreter: it names no work."""
    return frame.native and bool(
        _SEE_THROUGH.search(os.path.basename(frame.file))
        or _CPYTHON_SOURCE.search(frame.file.replace("\\", "/"))
    )


def classify(stack: Stack, native: bool) -> tuple[str, str]:
    """Return (category, reason) for one stack; `native`: recorded with --native."""
    frames = stack.frames
    if not frames:
        return "start-up", NO_PYTHON_FRAMES
    python = [i for i, f in enumerate(frames) if not f.native]
    leaf = python[-1] if python else -1
    opaque_below = False  # a native frame below the leaf that names nothing we know
    for i in range(len(frames) - 1, -1, -1):
        view = _View(frames[i], frames, i == leaf)
        for rule in RULES:
            if rule.matches(view):
                return rule.category, rule.description
        if i > leaf and not see_through(frames[i]):
            opaque_below = True
    if leaf < 0:
        # native frames only: the interpreter starting or exiting, or code we cannot name
        return (
            ("unclassified", UNMATCHED_NATIVE) if opaque_below else ("start-up", NO_PYTHON_FRAMES)
        )
    if opaque_below:
        return "unclassified", UNMATCHED_NATIVE
    return ("Python compute", PYTHON_CODE) if native else ("unclassified", NO_NATIVE)
