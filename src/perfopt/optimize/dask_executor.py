"""Run a study's trials as tasks on a Dask cluster that shares the study's storage.

`--executor dask --dask-scheduler tcp://HOST:PORT` connects to a running scheduler
(workers started with `dask worker tcp://HOST:PORT --nworkers N --nthreads 1`);
`--dask-scheduler local:N` starts a LocalCluster of N worker processes (one thread
each) on 127.0.0.1 for the run. Every task runs one trial in a worker: the worker
builds the objective once (data loaded, numba warm) and caches it with the study for
the later tasks of the run. Trials reach the study through the storage, which every
worker opens itself: PostgreSQL (any host), or a journal or SQLite file when all
workers share this host's file system (SQLite only with a warning: lock waits). The
count stays exact as in every plan (perfopt.optimize.quota); the driver keeps at most
one task per worker thread in flight.

Thread caps: the caps go into `distributed.nanny.pre-spawn-environ`, which the nanny
sets before it spawns the worker process, so OMP/MKL/OPENBLAS/NUMEXPR/NUMBA limits are
in place before numpy loads there; a worker of an external cluster started without
them gets its live pools limited by threadpoolctl at its first task.

Faults: tasks are submitted with retries=0, and a local cluster's scheduler runs with
`allowed-failures` 0, so a task whose worker dies fails at once (KilledWorker); the
driver fails the lost trial (RDB heartbeat, or the dead pid on this host) with a
retry enqueued, and submits another task. An external scheduler keeps its own
allowed-failures: it reruns the task elsewhere (a new trial), and the lost trial is
failed by the heartbeat.
"""

from __future__ import annotations

import contextlib
import logging
import os
import time
import uuid
from typing import Any

from perfopt.errors import UserError
from perfopt.heap import set_heap
from perfopt.machine import THREAD_CAP_VARS, thread_pools
from perfopt.optimize._bootstrap import (
    STOP,
    apply_caps,
    cap_environ,
    capped_environ,
)
from perfopt.optimize.cluster_address import (
    CONNECT_TIMEOUT_S,
    parse_scheduler,
    probe_scheduler,
    scheduler_is_remote,
)
from perfopt.optimize.config import OptimizeConfig
from perfopt.optimize.storages import StorageSpec, check_worker_storage
from perfopt.optimize.tasks import TrialTask

log = logging.getLogger(__name__)

# parse_scheduler and probe_scheduler live in cluster_address; importable from here too.
__all__ = [
    "check_dask_storage",
    "parse_scheduler",
    "probe_scheduler",
    "run_on_dask",
    "run_trial_task",
]

PREFETCH = 2  # tasks in flight per worker thread
# Per worker process: the run token and its (study, objective, info).
_CACHE: dict[str, Any] = {}


def check_dask_storage(spec: StorageSpec, scheduler: str | None) -> list[str]:
    """Refuse storages Dask workers cannot share; return warnings."""
    return check_worker_storage(spec, "Dask", scheduler_is_remote(scheduler))


@contextlib.contextmanager
def _client(cfg: OptimizeConfig) -> Any:
    """A connected Client (and the LocalCluster it owns for local:N), closed on exit."""
    import dask
    from distributed import Client, LocalCluster

    kind, value = parse_scheduler(cfg.dask_scheduler)
    info: dict[str, Any] = {"scheduler": cfg.dask_scheduler}
    start = time.perf_counter()
    if kind == "remote":
        try:
            client = Client(value, timeout=f"{CONNECT_TIMEOUT_S}s", set_as_default=False)
        except (OSError, TimeoutError) as exc:
            raise UserError(
                f"Dask scheduler {value} is unreachable ({type(exc).__name__} after "
                f"{CONNECT_TIMEOUT_S} s); start it (`dask scheduler`) or fix --dask-scheduler"
            ) from None
        info["connect_s"] = time.perf_counter() - start
        try:
            yield client, info
        finally:
            client.close()
        return
    environ = {**dask.config.get("distributed.nanny.pre-spawn-environ", {})}
    # Dask's default sets MALLOC_TRIM_THRESHOLD_, which turns off glibc's adaptive mmap
    # threshold: every numpy temporary above 128 KiB is then mmapped and unmapped, page
    # faults included. A numpy loop of 21 ms took 92 ms in such a worker and 18 ms without
    # it (docs/parallel.md). Workers of a trial keep glibc's defaults, as a plain process.
    environ.pop("MALLOC_TRIM_THRESHOLD_", None)
    settings = {
        # Set by the nanny before it spawns the worker, so before numpy loads there.
        "distributed.nanny.pre-spawn-environ": {**environ, **cap_environ(cfg.thread_cap)},
        # A task whose worker dies fails at once; the driver settles its trial.
        "distributed.scheduler.allowed-failures": 0,
        # The worker's statistical profiler samples every task thread's stack every
        # 10 ms from the event loop, taking the GIL from the trial: off for our workers.
        "distributed.worker.profile.enabled": False,
    }
    # The nanny also writes the pre-spawn variables into this process's environment.
    with dask.config.set(settings), capped_environ(cfg.thread_cap):
        cluster = LocalCluster(
            n_workers=int(value),
            threads_per_worker=1,
            processes=True,
            host="127.0.0.1",
            dashboard_address=None,
            silence_logs=logging.ERROR,
        )
        try:
            client = Client(cluster, set_as_default=False)
            info["cluster_start_s"] = time.perf_counter() - start
            try:
                yield client, info
            finally:
                client.close()
        finally:
            cluster.close()


def run_trial_task(payload: dict[str, Any]) -> dict[str, Any]:
    """Dask task: run one trial of the study in this worker (objective cached per run)."""
    import optuna

    from perfopt.optimize.objective import NonFiniteValue
    from perfopt.optimize.quota import QuotaObjective, SurplusTrial, TrialQuota, optimize_one

    start = time.perf_counter()
    started_at = time.time()
    token = payload["token"]
    cfg, task = payload["cfg"], payload["task"]
    if _CACHE.get("token") != token:
        _CACHE.clear()
        _CACHE.update(token=token, **_build(payload))
    study, objective = _CACHE["study"], _CACHE["objective"]
    quota = TrialQuota(cfg.n_trials, cfg.run_id)
    result: dict[str, Any] = {"pid": os.getpid(), "host": _CACHE["host"], "number": None}
    if quota.status(study).next_step(quota.target) == "done":
        result["skipped"] = True
    else:
        finished: list[Any] = []
        loop_start = time.perf_counter()
        optimize_one(
            study,
            QuotaObjective(objective, quota),
            (NonFiniteValue, SurplusTrial),
            [lambda s, t: finished.append(t)],
        )
        result["loop_s"] = time.perf_counter() - loop_start
        if finished:
            t = finished[0]
            result.update(
                number=t.number,
                state=t.state.name,
                surplus="surplus" in t.user_attrs,
                total_s=t.user_attrs.get("timers", {}).get("total"),
            )
    if not _CACHE.get("reported"):
        _CACHE["reported"] = True
        result["worker"] = _CACHE["info"]
    result["task_s"] = time.perf_counter() - start
    result["started_at"], result["ended_at"] = started_at, time.time()
    del optuna, task
    return result


def _build(payload: dict[str, Any]) -> dict[str, Any]:
    """Caps, objective and study in this worker process, once per run."""
    import socket

    import optuna

    from perfopt.optimize.storages import open_storage
    from perfopt.optimize.studies import make_pruner, sampler_for, seed_for

    cfg, task = payload["cfg"], payload["task"]
    start = time.perf_counter()
    # What the nanny put in place before the process started (pre-spawn environment).
    environ = {k: os.environ.get(k) for k in THREAD_CAP_VARS}
    apply_caps(cfg.thread_cap)  # for workers of clusters started without caps
    heap = set_heap(cfg.heap)
    optuna.logging.set_verbosity(payload["optuna_verbosity"])
    objective, info = task.build(cfg, None)
    host = socket.gethostname()
    study = optuna.load_study(
        study_name=cfg.study_name,
        storage=open_storage(payload["spec"], payload["heartbeat"]),
        # Worker identity, not submission order, seeds the sampler (tasks land anywhere).
        sampler=sampler_for(cfg, seed_for(cfg.run_seed, os.getpid() + 7919 * len(host), 0)),
        pruner=make_pruner(cfg.pruner, task.n_steps),
    )
    return {
        "study": study,
        "objective": objective,
        "host": host,
        "info": {
            "pid": os.getpid(),
            "host": host,
            "ready_s": time.perf_counter() - start,
            "thread_pools": thread_pools(),
            "heap": heap.as_dict(),
            "environ_at_start": environ,
            **info,
        },
    }


def _overheads(tasks: list[dict[str, Any]]) -> dict[str, float | None]:
    """Per-trial scheduling cost seen by the workers and the driver.

    dispatch_s_per_trial: mean gap on a worker between the end of one task and the start
    of its next (scheduler hand-off, deserialization; 0 for local trial processes,
    whose loop needs nobody); result_latency_s: task end to the driver holding its result.
    Worker and driver clocks are one clock on one host (compare with care across hosts).
    """
    gaps: list[float] = []
    by_worker: dict[tuple[str, int], list[dict[str, Any]]] = {}
    for t in tasks:
        by_worker.setdefault((t["host"], t["pid"]), []).append(t)
    for runs in by_worker.values():
        runs.sort(key=lambda t: t["started_at"])
        gaps += [b["started_at"] - a["ended_at"] for a, b in zip(runs, runs[1:], strict=False)]
    latency = [t["received_at"] - t["ended_at"] for t in tasks]
    return {
        "dispatch_s_per_trial": sum(gaps) / len(gaps) if gaps else None,
        "result_latency_s": sum(latency) / len(latency) if latency else None,
    }


def run_on_dask(
    cfg: OptimizeConfig,
    study: Any,
    spec: StorageSpec,
    task: TrialTask,
    n_existing: int,
    deadline: float | None,
) -> Any:
    """Keep one trial task per worker thread in flight until the study holds n_trials."""
    import optuna
    from distributed import wait

    from perfopt.optimize.plans import PlanResult
    from perfopt.optimize.quota import TrialQuota, settle_dead_trials

    heartbeat = (
        (cfg.heartbeat_interval, cfg.heartbeat_grace)
        if spec.supports_heartbeat and cfg.heartbeat_interval
        else None
    )
    payload = {
        "token": uuid.uuid4().hex,
        "cfg": cfg,
        "task": task,
        "spec": spec,
        "heartbeat": heartbeat,
        "optuna_verbosity": optuna.logging.get_verbosity(),
    }
    result = PlanResult()
    quota = TrialQuota(cfg.n_trials, cfg.run_id)
    tasks: list[dict[str, Any]] = []
    lost: list[dict[str, Any]] = []
    distributed_log = logging.getLogger("distributed")
    previous_level = distributed_log.level
    if not log.isEnabledFor(logging.INFO):
        distributed_log.setLevel(logging.CRITICAL)  # a killed worker is reported by us
    try:
        with _client(cfg) as (client, info):
            slots = max(1, sum(w["nthreads"] for w in client.scheduler_info()["workers"].values()))
            in_flight: dict[Any, float] = {}  # future -> submit time
            pending_lost = 0
            last_settle = 0.0
            loop_start = time.perf_counter()
            while True:
                if STOP.is_set():
                    result.interrupted = True
                    break
                status = quota.status(study)
                late = deadline is not None and time.time() >= deadline
                if (status.counted >= quota.target or late) and not in_flight:
                    break
                want = quota.target - status.counted
                # One task queued behind each running one, so a worker never waits for
                # this loop; never more than the trials still missing.
                while not late and len(in_flight) < min(PREFETCH * slots, want):
                    fut = client.submit(run_trial_task, payload, pure=False, retries=0)
                    in_flight[fut] = time.perf_counter()
                if not in_flight:
                    time.sleep(0.25)  # other processes hold the last places
                else:
                    with client.as_current(), contextlib.suppress(TimeoutError):
                        wait(list(in_flight), timeout=0.5, return_when="FIRST_COMPLETED")
                for fut in [f for f in in_flight if f.done()]:
                    in_flight.pop(fut)
                    try:
                        res = fut.result()
                    except Exception as exc:  # KilledWorker, CommClosedError, a task error
                        if type(exc).__name__ not in ("KilledWorker", "CommClosedError"):
                            raise
                        lost.append({"error": type(exc).__name__, "detail": str(exc)[:200]})
                        pending_lost += 1
                        continue
                    res["received_at"] = time.time()
                    tasks.append(res)
                    if "worker" in res:
                        result.workers.append(res["worker"])
                if pending_lost and time.monotonic() - last_settle > 0.5:
                    last_settle = time.monotonic()
                    failed = settle_dead_trials(study)
                    result.failed_by_supervisor += failed
                    pending_lost = max(0, pending_lost - len(failed))
            wall = time.perf_counter() - loop_start
            info["workers"] = slots
    finally:
        distributed_log.setLevel(previous_level)
    result.loop_s = [t["loop_s"] for t in tasks if "loop_s" in t]
    result.lost_workers = [{"index": i, "pid": None, "signal": None} for i in range(len(lost))]
    ran = [t for t in tasks if t.get("number") is not None]
    result.dask = {
        **info,
        "tasks": len(tasks) + len(lost),
        "trials": len(ran),
        "skipped": sum(bool(t.get("skipped")) for t in tasks),
        "lost_tasks": lost,
        "loop_wall_s": wall,
        **_overheads(tasks),
    }
    del n_existing
    return result
