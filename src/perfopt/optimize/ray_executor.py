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
import re
import time
import uuid
from typing import Any

from perfopt.errors import UserError
from perfopt.optimize import _bootstrap
from perfopt.optimize.config import OptimizeConfig
from perfopt.optimize.storages import StorageSpec, check_storage
from perfopt.optimize.tasks import TrialTask

log = logging.getLogger(__name__)

PREFETCH = 2  # tasks in flight per CPU
_LOCAL = re.compile(r"^local:(\d+)$")
_REMOTE = re.compile(r"^(auto|ray://[^\s/:]+:\d+)$")


def parse_address(text: str | None) -> tuple[str, int | str]:
    """("local", N) or ("remote", address); UserError for anything else."""
    value = (text or "").strip()
    m = _LOCAL.match(value)
    if m:
        n = int(m.group(1))
        if n < 1:
            raise UserError(f"--ray-address {value}: a local Ray instance needs at least 1 CPU")
        return "local", n
    if _REMOTE.match(value):
        return "remote", value
    raise UserError(
        f"--ray-address {value!r}: use local:N (a Ray instance of N CPUs started for the run), "
        "auto (a cluster started on this host with `ray start --head`) or ray://HOST:PORT"
    )


def check_ray(address: str | None) -> None:
    """Refuse a bad address, or a missing ray package, before any work starts."""
    parse_address(address)
    try:
        import ray  # noqa: F401
    except ImportError:
        raise UserError(
            "--executor ray needs the ray package: pip install 'perfopt[ray]' (or pip install ray)"
        ) from None


def check_ray_storage(spec: StorageSpec) -> list[str]:
    """Refuse storages Ray workers cannot share; return warnings."""
    if spec.kind == "memory":
        raise UserError(
            "in-memory storage lives in one process and Ray workers are other processes; "
            "use postgresql (any host) or journal:///file.log (workers on this host)"
        )
    return check_storage(spec, 1)


def _init(cfg: OptimizeConfig) -> tuple[Any, dict[str, Any], bool]:
    """Start or join Ray; return (ray module, info, whether this run started it)."""
    import ray

    kind, value = parse_address(cfg.ray_address)
    start = time.perf_counter()
    if ray.is_initialized():
        return ray, {"address": "already initialized", "start_s": 0.0}, False
    caps = _bootstrap.cap_environ(cfg.thread_cap)  # set before each worker imports numpy
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
            if _bootstrap.STOP.is_set():
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
