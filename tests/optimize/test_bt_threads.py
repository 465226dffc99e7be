"""--bt-pool thread: a trial's windows on threads give the values the process pool gives."""

from __future__ import annotations

import os

from perfopt.optimize import OptimizeConfig, run_optimize

from .conftest import END, START


def test_thread_pool_matches_the_process_pool(data_dir, study_name):
    def run(pool: str) -> dict:
        cfg = OptimizeConfig(
            data_dir=data_dir, start=START, end=END, n_trials=4, study_name=study_name,
            storage="memory", seed=3, mode="backtest", bt_workers=2, bt_pool=pool,
            progress=False,
        )  # fmt: skip
        return run_optimize(cfg)

    threads, processes = run("thread"), run("process")
    assert threads["trials"]["complete"] == processes["trials"]["complete"] == 4
    assert threads["best"]["value"] == processes["best"]["value"]
    assert threads["best"]["params"] == processes["best"]["params"]
    assert threads["plan"]["bt_pool"] == "thread"
    # the thread pool's workers are threads of this process; the process pool's children
    assert threads["pool"]["threads"] == 2 and "processes" not in threads["pool"]
    assert processes["pool"]["processes"] == 2
    assert set(threads["thread_pools"]) == {str(os.getpid())}
    assert set(processes["thread_pools"]) - {str(os.getpid())}  # at least one child answered
