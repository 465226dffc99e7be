"""The rule table on hand-written py-spy raw lines."""

from __future__ import annotations

from pathlib import Path

import pytest

from perfopt.profiling import CATEGORIES, classify_stack, classify_stacks

SITE = "/venv/lib/python3.11/site-packages"
STDLIB = "/usr/lib/python3.11"
ROOT = 'process 10:"python run.py"'

SOURCE = """\
import time
cur.execute("SELECT v FROM t WHERE id = ?", (i,)).fetchone()
time.sleep(0.01)
total += i * i
data = handle.read()
arr = np.dot(a, b)
obj = pickle.loads(buf)
done.wait()
"""


@pytest.fixture
def src(tmp_path: Path) -> str:
    """A real source file, so leaf-line rules can read the line a frame is on."""
    path = tmp_path / "user_code.py"
    path.write_text(SOURCE)
    return str(path)


def rec(*frames: str, count: int = 1, root: str = ROOT) -> str:
    return ";".join([root, *frames]) + f" {count}"


def test_leaf_source_line_names_the_c_call(src: str) -> None:
    main = f"<module> ({src}:1)"
    assert classify_stack(rec(main, f"query ({src}:2)")) == "database IO"
    assert classify_stack(rec(main, f"pause ({src}:3)")) == "waiting or idle"
    # a Python frame is evidence of Python compute only when native frames were recorded
    assert classify_stack(rec(main, f"loop ({src}:4)")) == "unclassified"
    assert classify_stack(rec(main, f"loop ({src}:4)"), native=True) == "Python compute"
    assert classify_stack(rec(main, f"load ({src}:5)")) == "file IO"
    assert classify_stack(rec(main, f"kernel ({src}:6)")) == "numeric compute"
    assert classify_stack(rec(main, f"decode ({src}:7)")) == "IPC and pickling"
    assert classify_stack(rec(main, f"block ({src}:8)")) == "waiting or idle"


def test_only_the_innermost_frame_line_counts(src: str) -> None:
    # Line 3 (sleep) is where the outer frame called `helper`; helper itself computes.
    stack = rec(f"outer ({src}:3)", f"helper ({src}:4)")
    assert classify_stack(stack, native=True) == "Python compute"


@pytest.mark.parametrize(
    ("frames", "category"),
    [
        ([f"do_execute ({SITE}/sqlalchemy/engine/default.py:924)"], "database IO"),
        ([f"execute ({SITE}/psycopg/cursor.py:97)"], "database IO"),
        ([f"read_sql ({SITE}/pandas/io/sql.py:700)"], "database IO"),
        (
            [
                f"_run_trial ({SITE}/optuna/study/_optimize.py:200)",
                f"set_trial_param ({SITE}/optuna/storages/_rdb/storage.py:500)",
                f"commit ({SITE}/sqlalchemy/orm/session.py:1900)",
                f"do_execute ({SITE}/sqlalchemy/engine/default.py:924)",
            ],
            "Optuna storage",
        ),
        ([f"append_logs ({SITE}/optuna/storages/journal/_file.py:180)"], "Optuna storage"),
        ([f"Condition.wait ({STDLIB}/threading.py:320)"], "waiting or idle"),
        ([f"Thread.join ({STDLIB}/threading.py:1112)"], "waiting or idle"),
        ([f"DefaultSelector.select ({STDLIB}/selectors.py:415)"], "waiting or idle"),
        ([f"Popen.wait ({STDLIB}/multiprocessing/popen_fork.py:43)"], "waiting or idle"),
        ([f"_worker ({STDLIB}/concurrent/futures/thread.py:81)"], "waiting or idle"),
        (
            [f"Connection._recv_bytes ({STDLIB}/multiprocessing/connection.py:430)"],
            "IPC and pickling",
        ),
        (
            [
                f"Connection._recv_bytes ({STDLIB}/multiprocessing/connection.py:430)",
                f"Connection._recv ({STDLIB}/multiprocessing/connection.py:395)",
            ],
            "waiting or idle",
        ),
        ([f"Queue.put ({STDLIB}/multiprocessing/queues.py:94)"], "IPC and pickling"),
        ([f"_Pickler.dump ({STDLIB}/pickle.py:487)"], "IPC and pickling"),
        ([f"Dataset.__getitem__ ({SITE}/h5py/_hl/dataset.py:800)"], "file IO"),
        ([f"read_table ({SITE}/pyarrow/parquet/core.py:1800)"], "file IO"),
        ([f"load ({SITE}/numpy/lib/_npyio_impl.py:400)"], "file IO"),
        ([f"sum ({SITE}/numpy/_core/fromnumeric.py:2300)"], "numeric compute"),
        ([f"_compile_for_args ({SITE}/numba/core/dispatcher.py:400)"], "numeric compute"),
        ([f"Module._call_impl ({SITE}/torch/nn/modules/module.py:1750)"], "numeric compute"),
        (["objective (/home/me/opt.py:12)", "rsi (/home/me/opt.py:30)"], "Python compute"),
        (
            [
                "<module> (/home/me/opt.py:1)",
                "_find_and_load (<frozen importlib._bootstrap>:1176)",
                f"<module> ({SITE}/numpy/__init__.py:100)",
            ],
            "start-up",
        ),
        ([], "start-up"),
        # --native frames below the innermost Python frame
        (
            [
                "main (/home/me/opt.py:5)",
                "time_sleep (libpython3.11.so.1.0)",
                "clock_nanosleep (libc.so.6)",
            ],
            "waiting or idle",
        ),
        (["main (/home/me/opt.py:5)", "sqlite3VdbeExec (libsqlite3.so.0)"], "database IO"),
        (["main (/home/me/opt.py:5)", "dgemm_kernel (libscipy_openblas64_.so)"], "numeric compute"),
    ],
)
def test_rule_table(frames: list[str], category: str) -> None:
    assert classify_stack(rec(*frames), native=True) == category


def test_a_user_function_below_a_worker_loop_is_compute_not_idle() -> None:
    frames = [
        f"_worker ({STDLIB}/concurrent/futures/thread.py:83)",
        f"_WorkItem.run ({STDLIB}/concurrent/futures/thread.py:58)",
        "objective (/home/me/opt.py:12)",
    ]
    assert classify_stack(rec(*frames), native=True) == "Python compute"


def test_classify_stacks_shares_top_functions_and_processes(src: str) -> None:
    child = 'process 11:"python -c from multiprocessing.spawn import spawn_main;\nspawn_main(fd=4) --multiprocessing-fork"'
    lines = [
        rec(f"<module> ({src}:1)", f"query ({src}:2)", count=6),
        rec(f"<module> ({src}:1)", f"loop ({src}:4)", count=3),
        # A child's command line with ';' and a newline, as py-spy writes it.
        *(rec(f"worker ({src}:3)", count=1, root=ROOT + ";" + child).split("\n")),
        "this is not a py-spy line",
    ]
    result = classify_stacks(lines, native=True)
    assert result["samples"] == 10
    assert result["unparsed_lines"] == 1
    assert list(result["categories"]) == list(CATEGORIES)
    assert result["categories"]["database IO"] == pytest.approx(0.6)
    assert result["categories"]["Python compute"] == pytest.approx(0.3)
    assert result["categories"]["waiting or idle"] == pytest.approx(0.1)
    assert result["category_samples"]["database IO"] == 6
    top = result["top_functions"][0]
    assert (top["function"], top["share"], top["category"]) == ("query", 0.6, "database IO")
    by_pid = {p["pid"]: p for p in result["processes"]}
    assert by_pid[10]["samples"] == 9 and by_pid[10]["top_category"] == "database IO"
    assert by_pid[11]["samples"] == 1 and "spawn_main" in by_pid[11]["cmdline"]


def test_empty_input_gives_zero_shares() -> None:
    result = classify_stacks([])
    assert result["samples"] == 0
    assert set(result["categories"].values()) == {0.0}
    assert result["top_functions"] == []


def test_classify_stack_refuses_garbage() -> None:
    with pytest.raises(ValueError):
        classify_stack("no count here")


def test_start_up_names_its_reasons(src: str) -> None:
    importing = "_find_and_load (<frozen importlib._bootstrap>:1176)"
    lines = [
        rec(f"<module> ({src}:1)", importing, f"<module> ({src}:4)", count=5),
        ROOT + " 3",  # no Python frames at all: the interpreter starting or exiting
        rec(f"<module> ({src}:1)", f"loop ({src}:4)", count=2),
    ]
    result = classify_stacks(lines, native=True)
    assert result["categories"]["start-up"] == pytest.approx(0.8)
    assert result["reasons"] == {
        "importing modules": pytest.approx(0.5),
        "interpreter start/exit (no Python frames)": pytest.approx(0.3),
    }
    # The frameless samples are not a function of the program.
    assert all(f["file"] for f in result["top_functions"][:1])


def test_a_parent_that_only_waits_is_a_supervisor(src: str) -> None:
    worker = ROOT + ';process 11:"python worker.py"'
    join = f"{STDLIB}/multiprocessing/process.py"
    importing = "_find_and_load (<frozen importlib._bootstrap>:1176)"
    lines = [
        # the parent imported (start-up), then joined its worker
        rec(f"<module> ({src}:1)", importing, f"<module> ({src}:4)", count=4),
        rec(f"<module> ({src}:1)", f"join ({join}:149)", count=10),
        rec(f"query ({src}:2)", count=6, root=worker),
        rec(f"wait ({src}:8)", count=1, root=worker),
    ]
    result = classify_stacks(lines)
    assert result["categories"]["waiting or idle"] == pytest.approx(11 / 21, abs=1e-4)
    # Without the waiting parent, the work is database IO.
    assert result["working_categories"]["database IO"] == pytest.approx(6 / 7, abs=1e-4)
    assert result["working_left_out"] == {"supervisor processes": 14}
    assert {p["pid"]: p["supervisor"] for p in result["processes"]} == {10: True, 11: False}


def test_idle_helper_threads_are_left_out_of_the_working_view(src: str) -> None:
    helper = f"Thread._bootstrap ({STDLIB}/threading.py:1002)"
    cond = f"Condition.wait ({STDLIB}/threading.py:331)"
    lines = [
        rec(f"<module> ({src}:1)", f"loop ({src}:4)", count=3),
        rec(helper, f"run ({src}:1)", cond, count=3),  # a heartbeat thread, blocked
        rec(f"<module> ({src}:1)", cond, count=1),  # the main thread waiting is real
    ]
    result = classify_stacks(lines, native=True)
    assert result["categories"]["waiting or idle"] == pytest.approx(4 / 7, abs=1e-4)
    assert result["working_categories"]["Python compute"] == pytest.approx(0.75)
    assert result["working_categories"]["waiting or idle"] == pytest.approx(0.25)
    assert result["working_left_out"] == {"idle helper threads": 3}


def test_processes_that_all_wait_are_no_supervisors(src: str) -> None:
    other = 'process 12:"python other.py"'
    lines = [rec(f"wait ({src}:8)", count=4), rec(f"wait ({src}:8)", count=4, root=other)]
    result = classify_stacks(lines)
    assert not any(p["supervisor"] for p in result["processes"])
    assert result["working_categories"] == result["categories"]
    assert result["working_left_out"] == {}


def test_a_parent_waiting_half_its_time_supervises_a_stalled_sibling_does_not(src: str) -> None:
    join = f"{STDLIB}/multiprocessing/process.py"
    child = ROOT + ';process 11:"python worker.py"'
    sibling = 'process 12:"python other.py"'
    lines = [
        rec(f"<module> ({src}:1)", f"join ({join}:149)", count=8),  # the parent of 11
        rec(f"<module> ({src}:1)", f"loop ({src}:4)", count=2),
        rec(f"loop ({src}:4)", count=10, root=child),
        rec(f"wait ({src}:8)", count=6, root=sibling),  # no children: it stays in view
        rec(f"loop ({src}:4)", count=4, root=sibling),
    ]
    result = classify_stacks(lines)
    assert {p["pid"]: p["supervisor"] for p in result["processes"]} == {
        10: True,
        11: False,
        12: False,
    }
    assert result["working_categories"]["waiting or idle"] == pytest.approx(6 / 20)


def test_a_waiting_parent_that_also_works_stays_in_view(src: str) -> None:
    # a driver whose main thread waits while its scheduler thread works, as Dask's does
    join = f"{STDLIB}/multiprocessing/process.py"
    child = ROOT + ';process 11:"python worker.py"'
    lines = [
        rec(f"<module> ({src}:1)", f"join ({join}:149)", count=10),
        rec(f"schedule ({src}:4)", count=6),
        rec(f"loop ({src}:4)", count=10, root=child),
    ]
    result = classify_stacks(lines)
    assert not any(p["supervisor"] for p in result["processes"])


LIBC = "/usr/lib/x86_64-linux-gnu/libc.so.6"
LIBPY = "/usr/lib/libpython3.11.so.1.0"


@pytest.mark.parametrize(
    ("frames", "native", "reason"),
    [
        # a Python frame without native frames to say what it ran
        (["main (/home/me/opt.py:5)"], False, "no native frames recorded"),
        # a native library no rule knows, below Python code
        (["main (/home/me/opt.py:5)", "crunch (libmystery.so)"], True, "native code no rule"),
        (["crunch (libmystery.so)"], True, "native code no rule"),
        # an unresolved address is opaque too (it is not the interpreter)
        (["main (/home/me/opt.py:5)", "0x7f00deadbeef (?)"], True, "native code no rule"),
    ],
)
def test_an_unmatched_stack_is_unclassified_never_compute(
    frames: list[str], native: bool, reason: str
) -> None:
    line = rec(*frames)
    assert classify_stack(line, native=native) == "unclassified"
    result = classify_stacks([line], native=native)
    assert result["categories"]["unclassified"] == 1.0
    assert any(reason in r for r in result["reasons"])
    assert result["categories"]["Python compute"] == result["categories"]["numeric compute"] == 0


@pytest.mark.parametrize(
    ("frames", "category"),
    [
        # the C library and the interpreter are see-through: the Python frame decides
        (["f (/home/me/a.py:3)", f"PyObject_Call ({LIBPY})", f"memcpy ({LIBC})"], "Python compute"),
        # native-only stacks of the interpreter: starting or exiting
        ([f"Py_RunMain ({LIBPY})", f"__libc_start_main ({LIBC})"], "start-up"),
        (["f (/home/me/a.py:3)", f"recv ({LIBC})"], "network IO"),
        (
            [
                "f (/home/me/a.py:3)",
                "sock_recv (_socket.cpython-311-x86_64-linux-gnu.so)",
                f"__libc_recv ({LIBC})",
            ],
            "network IO",
        ),  # fmt: skip
        (
            [f"recv_into ({STDLIB}/socket.py:706)", f"poll ({LIBC})"],
            "network IO",
        ),
        (
            [f"execute ({SITE}/psycopg/cursor.py:97)", "pqWait (libpq.so.5)", f"poll ({LIBC})"],
            "database IO",
        ),
        (
            ["f (/home/me/a.py:3)", "_pysqlite_query_execute (_sqlite3.cpython-311.so)"],
            "database IO",
        ),
        (["f (/home/me/a.py:3)", f"os_preadv ({LIBPY})", f"preadv2 ({LIBC})"], "file IO"),
        (["f (/home/me/a.py:3)", "H5Dread (libhdf5-9f9e.so.310)"], "file IO"),
        (
            [
                "f (/home/me/a.py:3)",
                "Dispatcher_call (numba/_dispatcher.cpython-311-x86_64-linux-gnu.so)",
                "0x7f1234 (?)",
            ],
            "numeric compute",
        ),
        (["f (/home/me/a.py:3)", "at::native::addmm (libtorch_cpu.so)"], "numeric compute"),
        (
            ["f (/home/me/a.py:3)", "dgemm_kernel_SKYLAKEX (libscipy_openblas64_.so)"],
            "numeric compute",
        ),
        (
            ["f (/home/me/a.py:3)", f"take_gil ({LIBPY})", f"pthread_cond_timedwait ({LIBC})"],
            "waiting or idle",
        ),
        # a plain read may be a pipe: the libc frame is see-through, the line decides
        (["f (/home/me/a.py:3)", f"read ({LIBC})"], "Python compute"),
    ],
)
def test_native_rules(frames: list[str], category: str) -> None:
    assert classify_stack(rec(*frames), native=True) == category


def test_samples_are_counted_per_thread() -> None:
    root = ROOT + ";thread (10): MainThread"
    worker = ROOT + ";thread (0x1F)"  # py-spy may give an id in hex and no name
    pq = [f"execute ({SITE}/psycopg/cursor.py:97)", "pqWait (libpq.so.5)", f"poll ({LIBC})"]
    lines = [
        rec("f (/home/me/a.py:3)", count=4, root=root),
        rec(*pq, count=3, root=worker),
        rec(f"g ({SITE}/psycopg/cursor.py:50)", count=1, root=worker),
        rec("h (/home/me/a.py:9)", f"take_gil ({LIBPY})", count=2, root=worker),
    ]
    result = classify_stacks(lines, native=True)
    threads = {t["tid"]: t for t in result["threads"]}
    assert threads[10] == {
        "tid": 10, "pid": 10, "name": "MainThread", "samples": 4,
        "categories": {"Python compute": 4}, "db_waits": 0, "net_waits": 0, "gil_waits": 0,
    }  # fmt: skip
    assert threads[31]["categories"] == {"database IO": 4, "waiting or idle": 2}
    assert threads[31]["db_waits"] == 3 and threads[31]["gil_waits"] == 2
    assert threads[31]["pid"] == 10 and threads[31]["name"] is None
    assert result["unparsed_lines"] == 0 and result["native"] is True


def test_interpreter_c_frames_with_debug_lines_are_native_and_see_through() -> None:
    build = "/tmp/python-build/Python-3.11.7"
    frames = [
        "f (/home/me/a.py:3)",
        f"long_add ({build}/Objects/longobject.c:3456)",
        f"_PyEval_EvalFrameDefault ({build}/Python/ceval.c:5678)",
    ]
    assert classify_stack(rec(*frames), native=True) == "Python compute"
    waiting = ["f (/home/me/a.py:3)", f"select_poll_poll_impl ({build}/Modules/selectmodule.c:655)",
               f"poll ({LIBC})"]  # fmt: skip
    assert classify_stack(rec(*waiting), native=True) == "waiting or idle"
    sqlite = [
        "f (/home/me/a.py:3)",
        f"_pysqlite_query_execute ({build}/Modules/_sqlite/cursor.c:895)",
    ]
    assert classify_stack(rec(*sqlite), native=True) == "database IO"
    # the innermost Python frame, not a C frame with a line, is the top function
    top = classify_stacks([rec(*waiting)], native=True)["top_functions"][0]
    assert (top["function"], top["file"]) == ("f", "me/a.py")
