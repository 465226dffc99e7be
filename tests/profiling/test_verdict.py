"""The verdict value on hand-built views: thread states decide, py-spy names the code."""

from __future__ import annotations

from typing import Any

import pytest

from perfopt.profiling import KINDS, attribute, verdict, verdict_text

SAMPLER = {"utilization_pct_of_available": 48.0, "cores_available": 2, "runnable_mean": 0.5}


def _thread(tid: int, pid: int, idle: bool = False, **seconds: float) -> dict[str, Any]:
    row = {"tid": tid, "pid": pid, "name": "python", "idle": idle}
    for c in ("cpu", "runqueue", "disk", "network", "pipe", "sleep", "stopped", "unknown"):
        row[f"{c}_s"] = seconds.get(c, 0.0)
    return row


def _states(
    threads: list[dict], procs: dict[int, dict] | None = None, runnable: float | None = None
) -> dict[str, Any]:
    pids = {t["pid"] for t in threads}
    procs = procs or {}
    wall = 3.0
    demand = sum(t["cpu_s"] + t["runqueue_s"] for t in threads) / wall
    return {
        "available": True,
        "cores": 2,
        "wall_s": wall,
        "runnable_mean": demand if runnable is None else runnable,
        "threads": threads,
        "processes": [
            {"pid": p, "name": "python", "exe": "python3.11", "python": True,
             "runnable_mean": 0.0, "pools": [], "thread_caps": {}, **procs.get(p, {})}
            for p in sorted(pids)
        ],
    }  # fmt: skip


def _spy(*rows: dict, native: bool = True) -> dict[str, Any]:
    return {
        "available": True,
        "native": native,
        "samples": sum(r["samples"] for r in rows),
        "threads": list(rows),
    }


def _row(tid: int, pid: int, **cats: int) -> dict[str, Any]:
    waits = {k: cats.pop(k, 0) for k in ("db_waits", "net_waits", "gil_waits")}
    cats = {k.replace("_", " "): v for k, v in cats.items()}
    return {"tid": tid, "pid": pid, "samples": sum(cats.values()), "categories": cats, **waits}


def _verdict(states: dict, spy: dict | None = None, **kw: Any) -> dict[str, Any]:
    return verdict({**SAMPLER, "thread_states": states}, spy, **kw)


def test_a_failed_command_gets_no_bound_ness_verdict() -> None:
    states = _states([_thread(1, 1, cpu=3.0)])
    assert _verdict(states, exit_code=2) == {
        "kind": "failed",
        "text": "the command exited with status 2: no bound-ness verdict",
        "shares": {},
    }
    assert _verdict(states, timed_out=True)["kind"] == "failed"
    assert _verdict(states, exit_code=0)["kind"] == "unclassified"  # no py-spy: code unknown


def test_a_sleep_is_waiting_whatever_its_stacks_say() -> None:
    # py-spy's stacks say compute (a stale frame), the kernel says asleep: the kernel wins
    states = _states([_thread(1, 1, cpu=0.02, sleep=2.9)])
    v = _verdict(states, _spy(_row(1, 1, Python_compute=100)))
    assert v["kind"] == "waiting" and v["shares"]["waiting"] > 0.99


def test_on_cpu_time_takes_the_code_py_spy_saw() -> None:
    states = _states([_thread(1, 1, cpu=2.5, runqueue=0.3, sleep=0.1)])
    v = _verdict(states, _spy(_row(1, 1, database_IO=90, Python_compute=5, waiting_or_idle=5)))
    assert v["kind"] == "io-database"
    assert v["shares"]["io-database"] == pytest.approx(2.8 * 90 / 95 / 2.9, abs=1e-3)
    assert "in a database client" in v["text"] and "CPU 48% of 2 cores" in v["text"]


def test_sleeping_inside_a_database_client_is_database_io() -> None:
    states = _states([_thread(1, 1, cpu=0.5, sleep=2.5)])
    row = _row(1, 1, database_IO=80, waiting_or_idle=20, db_waits=75)
    v = _verdict(states, _spy(row))
    # 2.5 s asleep: 75 of 95 blocked samples were in libpq's poll
    assert v["kind"] == "io-database"
    assert v["shares"]["waiting"] == pytest.approx(2.5 * 20 / 95 / 3.0, abs=1e-3)


def test_two_kinds_of_30_percent_each_are_mixed_with_their_shares() -> None:
    states = _states([_thread(1, 1, cpu=1.5, sleep=1.5)])
    v = _verdict(states, _spy(_row(1, 1, Python_compute=75, waiting_or_idle=75)))
    assert v["kind"] == "mixed"
    assert v["shares"] == {"cpu-python": 0.5, "waiting": 0.5}
    assert "cpu-python 50%" in v["text"] and "waiting 50%" in v["text"]


def test_supervisors_and_idle_threads_are_left_out_by_thread_state() -> None:
    threads = [
        _thread(1, 1, idle=True, cpu=0.05, sleep=2.9),  # the parent, joining
        _thread(2, 1, idle=True, cpu=0.01, pipe=2.9),  # its result-handler thread
        _thread(11, 11, cpu=2.8, runqueue=0.1),
        _thread(12, 12, cpu=2.7, runqueue=0.2),
    ]
    rows = [_row(1, 1, waiting_or_idle=140), _row(2, 1, waiting_or_idle=140),
            _row(11, 11, Python_compute=140), _row(12, 12, Python_compute=140)]  # fmt: skip
    v = _verdict(_states(threads), _spy(*rows))
    assert v["kind"] == "cpu-python" and v["shares"] == {"cpu-python": 1.0}
    assert "supervisors left out: python 1" in v["text"]


def test_waiting_for_the_gil_is_wanting_python_cpu() -> None:
    # three threads of busy Python: each holds the GIL a third of the time
    threads = [_thread(t, 1, cpu=1.0, sleep=2.0) for t in (1, 2, 3)]
    rows = [_row(t, 1, Python_compute=50, waiting_or_idle=100, gil_waits=95) for t in (1, 2, 3)]
    v = _verdict(_states(threads), _spy(*rows))
    assert v["kind"] == "cpu-python" and v["shares"]["cpu-python"] > 0.95


def test_a_parent_that_imported_then_waited_is_a_supervisor_a_pool_thread_idles_sooner() -> None:
    threads = [
        _thread(1, 1, cpu=0.6, runqueue=0.4, sleep=2.0),  # imports, then waits on its worker
        _thread(11, 11, cpu=2.0, runqueue=0.3),
        _thread(12, 11, cpu=0.3, sleep=0.7),  # a pool thread: works in bursts
    ]
    rows = [_row(1, 1, **{"start-up": 45}, waiting_or_idle=100, Python_compute=5),
            _row(11, 11, Optuna_storage=100)]  # fmt: skip
    found = attribute(_states(threads), _spy(*rows))
    assert found["supervisors"] == [{"pid": 1, "name": "python"}]
    assert found["idle_threads"] == 2 and found["shares"]["io-database"] > 0.85
    # a main thread waiting 70% of its time (start-up aside) is still working
    half = [_thread(1, 1, cpu=0.9, sleep=2.1), _thread(11, 11, cpu=2.0)]
    rows = [_row(1, 1, Python_compute=30, waiting_or_idle=70), _row(11, 11, Python_compute=100)]
    assert attribute(_states(half), _spy(*rows))["idle_threads"] == 0


def test_a_thread_py_spy_does_not_see_runs_native_code() -> None:
    # a BLAS pool thread in a Python process, and a non-Python child (bash)
    threads = [
        _thread(1, 1, cpu=1.4, runqueue=0.1, sleep=0.1),
        _thread(2, 1, cpu=1.5),
        _thread(3, 3, cpu=0.1),
    ]
    states = _states(threads, {3: {"python": False, "exe": "bash"}})
    v = _verdict(states, _spy(_row(1, 1, numeric_compute=70, Python_compute=5)))
    assert v["kind"] == "cpu-native" and v["shares"]["cpu-native"] > 0.9
    # with py-spy off, a Python process's CPU is unclassified; bash's is still native
    off = attribute(states, None)
    assert off["join"] == "none"
    assert off["seconds"]["cpu-native"] == pytest.approx(0.1)
    assert off["seconds"]["unclassified"] == pytest.approx(3.0)


def test_runnable_threads_beyond_the_cores_are_oversubscribed_at_any_cpu_use() -> None:
    # the machine is busy with other work: 20% of the cores, yet 4 threads wanted one
    threads = [_thread(t, t, cpu=0.3, runqueue=2.7) for t in (11, 12, 13, 14)]
    procs = {t: {"runnable_mean": 1.0, "pools": ["OpenBLAS"]} for t in (11, 12, 13, 14)}
    states = _states(threads, procs)
    rows = [_row(t, t, Python_compute=50) for t in (11, 12, 13, 14)]
    v = verdict(
        {**SAMPLER, "utilization_pct_of_available": 20.0, "thread_states": states},
        _spy(*rows),
        pools=[{"internal_api": "openblas", "num_threads": 2}],
    )
    assert v["kind"] == "oversubscribed" and v["runnable_mean"] == 4.0
    assert "4.0 threads wanted a core on 2 cores" in v["text"]
    assert "4 x python3.11 (1.0 runnable threads each; pools loaded: OpenBLAS" in v["text"]
    assert "no thread caps set" in v["text"] and "openblas 2" in v["text"]
    # as many as the cores is no oversubscription
    fits = _states([_thread(t, t, cpu=1.5, runqueue=1.4) for t in (11, 12)])
    assert _verdict(fits, _spy(*rows[:2]))["kind"] == "cpu-python"


def test_unclassified_code_is_never_called_compute() -> None:
    states = _states([_thread(1, 1, cpu=2.9)])
    v = _verdict(states, _spy(_row(1, 1, unclassified=100), native=False))
    assert v["kind"] == "unclassified"
    assert "py-spy without native frames" in v["text"]


def test_py_spy_from_another_run_stands_for_every_thread() -> None:
    states = _states([_thread(5, 5, cpu=2.9)])
    spy = {**_spy(_row(99, 99, numeric_compute=10)), "working_categories": {"numeric compute": 1.0}}
    v = _verdict(states, spy)
    assert v["kind"] == "cpu-native" and "py-spy watched a separate run" in v["text"]


def test_without_thread_states_the_verdict_says_so_and_uses_stacks() -> None:
    spy = {
        "available": True,
        "samples": 100,
        "working_categories": {"file IO": 0.8, "waiting or idle": 0.2},
    }
    v = verdict({**SAMPLER, "thread_states": {"available": False, "reason": "no /proc"}}, spy)
    assert v["kind"] == "io-disk" and "thread states unavailable (no /proc)" in v["text"]
    nothing = verdict({**SAMPLER, "thread_states": {"available": False, "reason": "x"}}, None)
    assert nothing["kind"] == "unclassified"


def test_kinds_and_text() -> None:
    assert set(KINDS) == {
        "cpu-python", "cpu-native", "io-disk", "io-database", "io-network", "waiting",
        "oversubscribed", "start-up", "mixed", "unclassified", "failed",
    }  # fmt: skip
    assert verdict_text({"kind": "waiting", "text": "asleep"}) == "waiting: asleep"
    # results written before the verdict became a value keep their sentence
    assert verdict_text("CPU 48% of 2 cores: CPU-bound") == "CPU 48% of 2 cores: CPU-bound"
    assert verdict_text(None) == "-"
