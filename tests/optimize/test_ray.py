"""The Ray executor on a real local Ray instance (skipped where ray is not installed)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from perfopt.errors import UserError
from perfopt.optimize import OptimizeConfig
from perfopt.optimize.grid import GridConfig, run_grid
from perfopt.optimize.ray_executor import parse_address


def test_bad_ray_settings_are_refused_before_any_work(intraday_dir: Path) -> None:
    for address in ("local:0", "tcp://h:1", ""):
        with pytest.raises(UserError, match="ray-address"):
            parse_address(address)
    with pytest.raises(UserError, match="--ray-address needs --executor ray"):
        OptimizeConfig(data_dir=intraday_dir, ray_address="local:2").validated()
    with pytest.raises(UserError, match="--n-jobs at 1"):
        OptimizeConfig(
            data_dir=intraday_dir, executor="ray", ray_address="local:2", n_jobs=2
        ).validated()


def test_a_local_ray_instance_finishes_exactly_n_trials(intraday_dir: Path, tmp_path: Path) -> None:
    pytest.importorskip("ray")
    import optuna

    base = OptimizeConfig(
        data_dir=intraday_dir, n_trials=8, storage=f"journal://{tmp_path}/r.log",
        executor="ray", ray_address="local:2", progress=False,
    )  # fmt: skip
    grid = run_grid(
        GridConfig(base=base, symbol="BTCUSDT", timeframe_grid="5m@1h",
                   reports_dir=tmp_path / "reports")
    )  # fmt: skip
    summary = json.loads((Path(grid["pairs"][0]["folder"]) / "summary.json").read_text())
    assert summary["trials"]["complete"] == 8
    assert summary["dask"]["executor"] == "ray" and summary["dask"]["trials"] == 8
    from perfopt.optimize.storages import open_storage, resolve_storage

    spec = resolve_storage(base.storage, "X", summary["study"])
    study = optuna.load_study(study_name=summary["study"], storage=open_storage(spec))
    assert len(study.trials) == 8
    pids = {t.user_attrs["worker_pid"] for t in study.trials}
    assert os.getpid() not in pids  # the trials ran in Ray's worker processes
    assert {w["pid"] for w in summary["workers"]} <= pids
