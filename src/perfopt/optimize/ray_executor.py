"""Run a study's trials as Ray tasks that share the study's storage (`--executor ray`).

`--ray-address local:N` starts a Ray instance on this host with N CPUs for the run
(and stops it after); `--ray-address auto` or `ray://HOST:PORT` joins a running
cluster (`ray start --head`, `ray start --address HOST:6379`). Each task runs one trial
with the same worker code as the Dask executor (perfopt.optimize.dask_executor
`run_trial_task`): Ray reuses its worker processes, so each builds the objective once
per run (data loaded, numba warm) and keeps it for the later tasks. Trials reach the
study through the storage, which every worker opens itself, so the trial count stays
exact across workers, runs and hosts (perfopt.optimize.quota), as with Dask.

Ray Tune's `OptunaSearch` is not used: there Tune's driver owns the search and Optuna
only suggests, so the study is not in the shared storage and independent runs could not
share one study with an exact trial count.

Faults: tasks are submitted with max_retries=0; a task whose worker dies raises in the
driver, which fails the lost trial (the dead pid on this host, or the RDB heartbeat) and
submits another task.
"""

from __future__ import annotations

import logging
import time
import uuid
from typing import Any

from perfopt.optimize._bootstrap import STOP, cap_environ
from perfopt.optimize.cluster_address import check_ray, parse_address
from perfopt.optimize.config import OptimizeConfig
from perfopt.optimize.storages import StorageSpec, check_worker_storage
from perfopt.optimize.tasks import TrialTask

log = logging.getLogger(__name__)

PREFETCH = 2  # tasks in flight per CPU

# parse_address and check_ray live in cluster_address; importable from here too.
__all__ = ["check_ray", "check_ray_storage", "parse_address", "run_on_ray"]


def check_ray_storage(spec: StorageSpec) -> list[str]:
    """Refuse storages Ray workers cannot share; return warnings."""
    return check_worker_storage(spec, "Ray", remote=True, warn_shared=False)


def _init(cfg: OptimizeConfig) -> tuple[Any, dict[str, Any], bool]:
    """Start or join Ray; return (ray module, info, whether this run started it)."""
    import ray

    kind, value = parse_address(cfg.ray_address)
    start = time.perf_counter()
    if ray.is_initialized():
        return ray, {"address": "already initialized", "start_s": 0.0}, False
    caps = cap_environ(cfg.thread_cap)  # set before each worker imports numpy
    env = {"env_vars": caps} if caps else None
    if kind == "local":
        ray.init(
            num_cpus=int(value),
            include_dashboard=False,
            log_to_driver=log.isEnabledFor(logging.INFO),
            runtime_env=env,
            logging_level=logging.WARNING,
        )
    else:
        ray.init(address=str(value), runtime_env=env, logging_level=logging.WARNING)
    info = {"address": cfg.ray_address, "start_s": time.perf_counter() - start}
    return ray, info, True


def run_on_ray(
    cfg: OptimizeConfig,
    study: Any,
    spec: StorageSpec,
    task: TrialTask,
    n_existing: int,
    deadline: float | None,
) -> Any:
    """Keep PREFETCH trial tasks per Ray CPU in flight until the study holds n_trials."""
    import optuna

    from perfopt.optimize.dask_executor import _overheads, run_trial_task
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
    ray, info, started = _init(cfg)
    try:
        remote = ray.remote(num_cpus=1, max_retries=0)(run_trial_task)
        slots = max(1, int(ray.cluster_resources().get("CPU", 1)))
        ref = ray.put(payload)
        in_flight: list[Any] = []
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
            while not late and len(in_flight) < min(PREFETCH * slots, want):
                in_flight.append(remote.remote(ref))
            if not in_flight:
                time.sleep(0.25)  # other processes hold the last places
                continue
            done, in_flight = ray.wait(in_flight, num_returns=1, timeout=0.5)
            for obj in done:
                try:
                    res = ray.get(obj)
                except (ray.exceptions.WorkerCrashedError, ray.exceptions.RayTaskError) as exc:
                    if isinstance(exc, ray.exceptions.RayTaskError) and not isinstance(
                        exc.cause, ray.exceptions.WorkerCrashedError | SystemExit
                    ):
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
        for obj in in_flight:  # interrupted: let the running trials end as FAIL or finish
            ray.cancel(obj, force=False)
    finally:
        if started:
            ray.shutdown()
    result.loop_s = [t["loop_s"] for t in tasks if "loop_s" in t]
    result.lost_workers = [{"index": i, "pid": None, "signal": None} for i in range(len(lost))]
    ran = [t for t in tasks if t.get("number") is not None]
    result.dask = {
        "executor": "ray",
        **info,
        "workers": slots,
        "tasks": len(tasks) + len(lost),
        "trials": len(ran),
        "skipped": sum(bool(t.get("skipped")) for t in tasks),
        "lost_tasks": lost,
        "loop_wall_s": wall,
        **_overheads(tasks),
    }
    del n_existing
    return result
