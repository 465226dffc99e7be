"""Real runs: exact trial counts in every plan, stage timers, thread caps, NaN policy."""

from __future__ import annotations

import json

import optuna
import pytest

from perfopt.optimize import OptimizeConfig, run_optimize

from .conftest import END, START

STAGES = {"data", "signals", "returns", "metrics", "total", "optuna"}


def config(data_dir, study_name, storage, **kw) -> OptimizeConfig:
    base = dict(
        data_dir=data_dir, start=START, end=END, n_trials=6, study_name=study_name,
        storage=storage, seed=3, heartbeat_interval=1, heartbeat_grace=3,
    )  # fmt: skip
    base.update(kw)
    return OptimizeConfig(**base)


def load(summary) -> optuna.Study:
    from perfopt.optimize.storages import open_storage, resolve_storage

    spec = resolve_storage(summary["storage"]["url"], "X", summary["study"])
    return optuna.load_study(study_name=summary["study"], storage=open_storage(spec))


def check_trials(study: optuna.Study, n: int) -> None:
    trials = study.get_trials()
    assert len(trials) == n
    assert all(t.state.is_finished() for t in trials)
    for t in trials:
        assert set(t.user_attrs["timers"]) >= STAGES, t.number
        assert t.user_attrs["timers"]["total"] > 0
        assert isinstance(t.user_attrs["worker_pid"], int)


@pytest.mark.parametrize(
    ("storage", "kw"),
    [
        ("journal", dict(mode="trial", n_jobs=2)),
        ("sqlite", dict(mode="trial", n_jobs=2, pruner="median")),
        ("memory", dict(mode="backtest", bt_workers=2)),
        ("journal", dict(mode="hybrid", n_jobs=1, bt_workers=2)),
        ("memory", dict(mode="thread", n_jobs=2, sampler="random")),
    ],
    ids=["trial-journal", "trial-sqlite", "backtest-memory", "hybrid-journal", "thread-memory"],
)
def test_exact_trial_count_and_timers_in_every_mode(data_dir, study_name, tmp_path, storage, kw):
    url = {
        "journal": f"journal://{tmp_path}/s.log",
        "sqlite": f"sqlite:///{tmp_path}/s.db",
        "memory": "memory",
    }[storage]
    summary = run_optimize(config(data_dir, study_name, url, **kw), tmp_path / "summary.json")
    c = summary["trials"]
    assert c["complete"] + c["pruned"] + c["failed"] == 6
    assert summary["study_counted_trials"] == 6
    assert summary["plan"]["mode"] == kw["mode"]
    saved = json.loads((tmp_path / "summary.json").read_text())
    assert saved["trials"] == c
    for key in ("trials_per_s", "io_ratio", "storage_s_per_trial", "wall_s"):
        assert saved[key] > 0, key
    assert saved["trial_s"]["p50"] <= saved["trial_s"]["p90"]
    if storage != "memory":
        check_trials(load(summary), 6)
    if kw["mode"] in ("trial", "hybrid"):
        pids = {w["pid"] for w in summary["workers"]}
        assert len(pids) == kw["n_jobs"]
    if kw["mode"] in ("trial", "hybrid", "backtest"):
        # Default cap 1 in process modes: every child's BLAS and numba pool has one thread.
        assert summary["thread_pools"]
        for pid, pools in summary["thread_pools"].items():
            assert pools and all(v == 1 for v in pools.values()), (pid, pools)


def test_blas_threads_flag_reaches_the_children(data_dir, study_name, tmp_path):
    summary = run_optimize(
        config(data_dir, study_name, f"journal://{tmp_path}/s.log", n_trials=2, n_jobs=2,
               blas_threads=2)
    )  # fmt: skip
    blas = [
        v for pools in summary["thread_pools"].values() for k, v in pools.items() if "blas" in k
    ]
    assert blas and all(v == 2 for v in blas)


def test_resume_reaches_the_new_target_and_keeps_old_trials(data_dir, study_name, tmp_path):
    url = f"sqlite:///{tmp_path}/r.db"
    first = run_optimize(config(data_dir, study_name, url, n_trials=3, n_jobs=2))
    study = load(first)
    before = {t.number: t.value for t in study.trials}
    second = run_optimize(config(data_dir, study_name, url, n_trials=5, n_jobs=2))
    assert second["trials"]["complete"] == 2
    study = load(second)
    assert len(study.trials) == 5
    assert {t.number: t.value for t in study.trials if t.number in before} == before
    again = run_optimize(config(data_dir, study_name, url, n_trials=5, n_jobs=2))
    assert again["trials"]["complete"] == 0 and "nothing to run" in again["warnings"][0]


def test_resume_with_other_settings_is_refused(data_dir, study_name, tmp_path):
    from perfopt.errors import UserError

    url = f"journal://{tmp_path}/f.log"
    run_optimize(config(data_dir, study_name, url, n_trials=1))
    with pytest.raises(UserError, match="other settings"):
        run_optimize(config(data_dir, study_name, url, n_trials=2, fee=0.01))


@pytest.mark.parametrize("policy", ["fail", "penalty"])
def test_nan_sharpe_fails_with_reason_or_takes_penalty(flat_data_dir, study_name, tmp_path, policy):
    url = f"journal://{tmp_path}/n.log"
    summary = run_optimize(
        config(
            flat_data_dir, study_name, url, n_trials=3, nan_policy=policy, nan_penalty=-7.0, fee=0.0
        )
    )
    study = load(summary)
    assert len(study.trials) == 3
    if policy == "fail":
        assert summary["trials"]["failed"] == 3
        for t in study.trials:
            assert t.state == optuna.trial.TrialState.FAIL
            assert "Sharpe is" in t.user_attrs["fail_reason"]
    else:
        assert [t.value for t in study.trials] == [-7.0] * 3
        assert all("Sharpe is" in t.user_attrs["penalized"] for t in study.trials)


@pytest.mark.postgres
def test_postgres_counts_resume_and_masked_password(data_dir, study_name, pg_url, tmp_path, capsys):
    from perfopt.cli import main

    # Trust authentication ignores the password: it must still never be shown or saved.
    url = pg_url.replace("postgres@", "postgres:pw-s3cret@")
    out = tmp_path / "pg.json"
    common = ["optimize", "--data", str(data_dir), "--start", START, "--end", END,
              "--study-name", study_name, "--storage", url, "--n-jobs", "2", "--no-progress",
              "--summary-json", str(out)]  # fmt: skip
    assert main([*common, "--n-trials", "2"]) == 0
    assert main([*common, "--n-trials", "4"]) == 0
    printed = capsys.readouterr()
    saved = out.read_text()
    for text in (printed.out, printed.err, saved):
        assert "pw-s3cret" not in text
    assert "postgres:***@127.0.0.1" in saved
    summary = json.loads(saved)
    assert summary["trials"]["complete"] == 2
    study = optuna.load_study(study_name=study_name, storage=pg_url)
    check_trials(study, 4)


def test_forked_workers_inherit_the_prebuilt_objective_and_find_the_same_values(
    data_dir, tmp_path
):
    """fork: the supervisor loads and warms once, workers reuse it; spawn builds per worker.

    Same seed, one worker: the prebuilt objective gives the very values a worker's own
    build gives (it is the same computation, only loaded once).
    """
    values = {}
    for method in ("fork", "spawn"):
        url = f"journal://{tmp_path}/{method}.log"
        summary = run_optimize(
            config(data_dir, f"pre-{method}", url, mode="trial", n_jobs=1, start_method=method)
        )
        (worker,) = summary["workers"]
        if method == "fork":
            assert summary["prebuilt"]["pid"] != worker["pid"]  # built in the supervisor
            assert summary["prebuilt"]["load_s"] > 0 and worker["prebuilt"] is True
        else:
            assert summary["prebuilt"] is None and "prebuilt" not in worker
        study = load(summary)
        check_trials(study, 6)
        values[method] = [(t.params, t.value) for t in study.get_trials()]
    assert values["fork"] == values["spawn"]


def test_the_heap_setting_reaches_the_workers_and_leaves_the_values_alone(data_dir, tmp_path):
    """--heap keep (the default) and system: each worker reports its heap, same trials."""
    from perfopt.heap import glibc_version, user_heap_settings

    values, applied = {}, {}
    for heap, method in (("keep", "spawn"), ("system", "fork")):
        url = f"journal://{tmp_path}/{heap}.log"
        summary = run_optimize(
            config(data_dir, f"heap-{heap}", url, mode="trial", n_jobs=1, start_method=method,
                   heap=heap)
        )  # fmt: skip
        (worker,) = summary["workers"]
        assert summary["plan"]["heap"] == heap
        assert worker["heap"]["mode"] == heap and summary["heap"] == worker["heap"]
        values[heap] = [(t.params, t.value) for t in load(summary).get_trials()]
        applied[heap] = worker["heap"]["applied"]
    assert values["keep"] == values["system"]
    assert applied == {"keep": glibc_version() is not None and not user_heap_settings(),
                       "system": False}  # fmt: skip


def test_tpe_multivariate_sampler_runs_the_study(data_dir, tmp_path):
    """--sampler tpe-multivariate: TPE with multivariate and group on, exact count."""
    from perfopt.optimize.studies import make_sampler

    sampler = make_sampler("tpe-multivariate", 1)
    assert isinstance(sampler, optuna.samplers.TPESampler)
    assert sampler._multivariate and sampler._group
    cfg = config(data_dir, "tpe-mv", "memory", mode="backtest", sampler="tpe-multivariate")
    summary = run_optimize(cfg)
    assert summary["study_counted_trials"] == 6


def test_naive_access_workers_open_their_own_sqlite_connection(data_dir, tmp_path):
    """No SQLite connection crosses fork: with naive access each worker builds its own."""
    url = f"journal://{tmp_path}/naive.log"
    cfg = config(data_dir, "naive-fork", url, mode="trial", n_jobs=2, n_trials=4, access="naive")
    summary = run_optimize(cfg)
    assert summary["prebuilt"] is None
    assert all("prebuilt" not in w for w in summary["workers"])
    check_trials(load(summary), 4)
