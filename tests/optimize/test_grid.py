"""Timeframe-grid runs: studies per pair, outputs, resume, multi-objective, bad input."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import optuna
import pytest

from perfopt.cli import main
from perfopt.errors import UserError
from perfopt.intraday import DEFAULT_FEATURES, backtest_pair, search_space
from perfopt.optimize import OptimizeConfig
from perfopt.optimize.grid import GridConfig, plan_grid, run_grid
from perfopt.optimize.intraday_task import IntradayTask

COMPLETE = optuna.trial.TrialState.COMPLETE


def grid_config(data, tmp_path, grid="1m@15m,5m@1h", n_trials=6, **kw) -> GridConfig:
    base_kw = {k: kw.pop(k) for k in list(kw) if k in OptimizeConfig.__dataclass_fields__}
    base = OptimizeConfig(
        data_dir=data, n_trials=n_trials, storage_url_env="PERFOPT_TEST_NO_SUCH_ENV", **base_kw
    )
    return GridConfig(
        base=base,
        symbol="BTCUSDT",
        timeframe_grid=grid,
        reports_dir=tmp_path / "reports",
        studies_dir=tmp_path / "studies",
        **kw,
    )


def load(summary_path: Path) -> optuna.Study:
    summary = json.loads(summary_path.read_text())
    url = summary["storage"]["url"]
    if summary["storage"]["kind"] == "journal":
        from optuna.storages.journal import JournalFileBackend

        url = optuna.storages.JournalStorage(JournalFileBackend(url))
    return optuna.load_study(study_name=summary["study"], storage=url)


def test_one_study_per_pair_named_by_the_templates_with_outputs(intraday_dir, tmp_path):
    gcfg = grid_config(
        intraday_dir, tmp_path, n_jobs=2, top_k=3, suffix="_v1",
        study_template="{symbol_slug}_{ltf_slug}_{htf_slug}{suffix}_{index}of{total}",
    )  # fmt: skip
    grid = run_grid(gcfg)
    assert [r["study"] for r in grid["pairs"]] == [
        "btcusdt_1m_15m_v1_1of2",
        "btcusdt_5m_1h_v1_2of2",
    ]
    for row, (ltf, htf) in zip(grid["pairs"], [("1m", "15m"), ("5m", "1h")], strict=True):
        folder = Path(row["folder"])
        assert folder.parent == tmp_path / "reports"
        assert folder.name == f"{grid['timestamp']}_BTCUSDT_{ltf}_{htf}"
        assert sorted(p.name for p in folder.iterdir()) == [
            "best_params.json", "stages.json", "summary.json", "top_trials.csv",
        ]  # fmt: skip
        # SQLite fallback per pair: studies/<symbol>_<ltf>_<htf>.db
        assert row["storage"]["url"] == f"sqlite:///{tmp_path / 'studies'}/BTCUSDT_{ltf}_{htf}.db"
        study = load(folder / "summary.json")
        assert sum(t.state == COMPLETE for t in study.trials) == 6
        with (folder / "top_trials.csv").open() as fh:
            rows = list(csv.DictReader(fh))
        assert len(rows) == 3
        values = [float(r["value"]) for r in rows]
        assert values == sorted(values, reverse=True)
        assert values[0] == study.best_value
        stages = json.loads((folder / "stages.json").read_text())
        assert stages["trials"] == 6
        assert set(stages["stages"]) >= {"data", "signals", "returns", "metrics", "total"}
        assert stages["stages"]["total"]["sum"] > 0
        best = json.loads((folder / "best_params.json").read_text())
        assert best["params"] == [study.best_params]
        assert (best["ltf"], best["htf"]) == (ltf, htf)
    saved = json.loads((tmp_path / "reports" / "grid_summary.json").read_text())
    assert [r["pair"] for r in saved["pairs"]] == ["1m@15m", "5m@1h"]
    table = (tmp_path / "reports" / "grid_summary.md").read_text()
    assert "| 1 | 1m@15m | btcusdt_1m_15m_v1_1of2 | 6/6 |" in table


def test_trial_value_is_the_backtest_of_its_parameters(intraday_dir, tmp_path):
    grid = run_grid(grid_config(intraday_dir, tmp_path, grid="1m@15m", n_trials=3))
    study = load(Path(grid["pairs"][0]["folder"]) / "summary.json")
    pair, _ = IntradayTask.make(
        data_dir=intraday_dir, symbol="BTCUSDT", ltf="1m", htf="15m", features=DEFAULT_FEATURES
    ).prepare()
    for t in study.trials:
        metrics = backtest_pair(pair, t.params, DEFAULT_FEATURES)
        assert t.value == pytest.approx(metrics["sharpe"])
        assert t.user_attrs["metrics"]["n_trades"] == metrics["n_trades"]
        assert t.user_attrs["worker_host"]


def test_resume_from_enqueues_the_earlier_best_first(intraday_dir, tmp_path):
    first = run_grid(grid_config(intraday_dir, tmp_path / "a", grid="1m@15m", n_trials=4))
    best_file = Path(first["pairs"][0]["files"]["best_params"])
    best = json.loads(best_file.read_text())["params"][0]
    second = run_grid(
        grid_config(intraday_dir, tmp_path / "b", grid="1m@15m,5m@1h", n_trials=3,
                    resume_from=best_file, sampler="random")
    )  # fmt: skip
    for row in second["pairs"]:
        study = load(Path(row["folder"]) / "summary.json")
        assert study.trials[0].params == best  # the first trial of every pair's study
        assert study.trials[0].system_attrs.get("fixed_params") == best
        assert sum(t.state == COMPLETE for t in study.trials) == 3


def test_resume_file_outside_the_search_space_is_refused(intraday_dir, tmp_path):
    bad = tmp_path / "bad.json"
    space = search_space("rsi", DEFAULT_FEATURES)
    params = {name: low for name, (_, low, _) in space.items()}
    bad.write_text(json.dumps({"params": [{**params, "rsi_period": 999}]}))
    with pytest.raises(UserError, match=r"bad.json.*rsi_period=999"):
        plan_grid(grid_config(intraday_dir, tmp_path, resume_from=bad))
    bad.write_text(json.dumps({"params": [{**params, "ma_fast": 5}]}))
    with pytest.raises(UserError, match=r"unexpected \['ma_fast'\]"):
        plan_grid(grid_config(intraday_dir, tmp_path, resume_from=bad))
    # A switched-off feature drops its parameter from the space: stop_pct no longer fits.
    bad.write_text(json.dumps(params))
    with pytest.raises(UserError, match=r"unexpected \['stop_pct'\]"):
        plan_grid(grid_config(intraday_dir, tmp_path, resume_from=bad, disable=("useStop",)))


def test_multi_objective_returns_a_pareto_front(intraday_dir, tmp_path):
    gcfg = grid_config(
        intraday_dir, tmp_path, grid="1m@15m", n_trials=10, multi_objective=True,
        sampler="nsga2", population_size=4, crossover_prob=0.5, top_k=4,
    )  # fmt: skip
    grid = run_grid(gcfg)
    folder = Path(grid["pairs"][0]["folder"])
    study = load(folder / "summary.json")
    assert [d.name for d in study.directions] == ["MAXIMIZE", "MINIMIZE"]
    summary = json.loads((folder / "summary.json").read_text())
    front = summary["pareto_front"]
    assert front and summary["best"] is None
    assert {t["number"] for t in front} == {t.number for t in study.best_trials}
    for t in study.trials:  # values are (total return, |max drawdown|)
        m = t.user_attrs["metrics"]
        assert t.values == [m["total_return"], abs(m["max_drawdown"])]
    best = json.loads((folder / "best_params.json").read_text())
    assert best["params"] == [t["params"] for t in front]
    with (folder / "top_trials.csv").open() as fh:
        rows = list(csv.DictReader(fh))
    on_front = {t["number"] for t in front}
    listed = [int(r["number"]) for r in rows]
    assert listed[: len(on_front)] == sorted(
        listed[: len(on_front)], key=lambda n: n not in on_front
    )
    assert set(listed[: min(len(front), 4)]) <= on_front
    assert grid["pairs"][0]["pareto_size"] == len(front)


def test_nsga2_settings_reach_the_sampler():
    from perfopt.optimize.studies import make_sampler

    sampler = make_sampler("nsga2", 1, population_size=6, crossover_prob=0.3)
    assert sampler._population_size == 6
    assert sampler._child_generation_strategy._crossover_prob == 0.3


def run_cli(capsys, *args: str) -> tuple[int, str, str]:
    rc = main(["optimize", *args])
    captured = capsys.readouterr()
    return rc, captured.out, captured.err


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--timeframe-grid", "1m@15m,5m"], "malformed --timeframe-grid entry '5m': use the form LTF@HTF"),
        (["--timeframe-grid", "1m@7m"], "unknown timeframe '7m'"),
        (["--timeframe-grid", "1h@15m"], "must be longer than the LTF"),
        (["--timeframe-grid", "1m@1h", "--study-template", "{symbol}_{tf}"], "unknown placeholder {tf}"),
        (["--timeframe-grid", "1m@1h", "--run-tag-template", "{nope}"], "unknown placeholder {nope}"),
        (["--timeframe-grid", "1m@15m,1m@1h", "--study-template", "{symbol}"], "several pairs"),
        (["--timeframe-grid", "1m@1h", "--sampler", "nsga2"], "needs a second objective"),
        (["--timeframe-grid", "1m@1h", "--multi-objective", "--sampler", "cmaes"], "cmaes"),
        (["--timeframe-grid", "1m@1h", "--multi-objective", "--pruner", "median"], "prunes"),
        (["--timeframe-grid", "1m@1h", "--access", "naive"], "--access: daily-mode"),
        (["--timeframe-grid", "1m@1h", "--parallel-mode", "hybrid"], "--bt-workers"),
        (["--timeframe-grid", "1m@1h", "--parallel-mode", "backtest"], "use --parallel-mode trial"),
        (["--timeframe-grid", "1m@1h", "--enable", "useFoo"], "unknown feature 'useFoo'"),
        (["--timeframe-grid", "1m@1h", "--resume-from", "/nonexistent/best.json"], "--resume-from"),
        (["--timeframe-grid", "1m@1h", "--executor", "dask"], "--dask-scheduler"),
        (["--timeframe-grid", "1m@1h", "--executor", "dask", "--dask-scheduler", "tcp://127.0.0.1:1"], "tcp://127.0.0.1:1 is unreachable"),
        (["--timeframe-grid", "1m@1h", "--executor", "dask", "--dask-scheduler", "nope"], "use tcp://HOST:PORT"),
        (["--timeframe-grid", "1m@1h", "--executor", "dask", "--dask-scheduler", "local:2", "--storage", "memory"], "in-memory storage"),
        (["--timeframe-grid", "1m@1h", "--executor", "dask", "--dask-scheduler", "local:2", "--n-jobs", "2"], "--n-jobs"),
        (["--symbol", "ETHUSDT", "--timeframe-grid", "1m@1h"], "no 1min bars for symbol 'ETHUSDT'"),
    ],
)  # fmt: skip
def test_bad_grid_input_exits_2_with_one_line(capsys, intraday_dir, tmp_path, args, message):
    if "--symbol" not in args:
        args = ["--symbol", "BTCUSDT", *args]
    base = ["--data", str(intraday_dir), "--no-progress", "--reports-dir", str(tmp_path / "r"),
            "--studies-dir", str(tmp_path / "s")]  # fmt: skip
    if "--storage" not in args:
        base += ["--storage-url-env", "PERFOPT_TEST_NO_SUCH"]
    if "--parallel-mode" in args and "hybrid" in args:
        args = [*args, "--bt-workers", "2"]
    rc, _, err = run_cli(capsys, *base, *args)
    assert rc == 2, err
    assert message in err
    assert len(err.strip().splitlines()) == 1, err
    assert not (tmp_path / "r").exists() and not (tmp_path / "s").exists()


def test_grid_flags_without_a_grid_and_half_a_grid_are_refused(capsys, intraday_dir, tmp_path):
    base = ["--data", str(intraday_dir), "--no-progress"]
    for args, message in (
        (["--multi-objective"], "--multi-objective: timeframe-grid flag"),
        (["--top-k", "3"], "--top-k: timeframe-grid flag"),
        (["--symbol", "BTCUSDT"], "needs both --symbol and --timeframe-grid"),
        (["--timeframe-grid", "1m@1h"], "needs both --symbol and --timeframe-grid"),
    ):
        rc, _, err = run_cli(capsys, *base, *args)
        assert rc == 2 and message in err, err
        assert len(err.strip().splitlines()) == 1


def test_cli_grid_run_prints_the_table_and_where_it_wrote(capsys, intraday_dir, tmp_path):
    rc, out, _ = run_cli(
        capsys, "--data", str(intraday_dir), "--symbol", "BTCUSDT", "--timeframe-grid",
        "3m@30m;5m@1h", "--n-trials", "3", "--no-progress", "--storage",
        f"journal://{tmp_path}/g.log", "--reports-dir", str(tmp_path / "rep"),
        "--disable", "useStop", "--enable", "useTakeProfit", "--slippage-bps", "2", "--fee", "0.001",
    )  # fmt: skip
    assert rc == 0
    lines = out.strip().splitlines()
    assert lines[1].split()[:3] == ["#", "pair", "study"]
    assert lines[2].split()[:4] == ["1", "3m@30m", "BTCUSDT_3m_30m", "3/3"]
    assert lines[3].split()[:4] == ["2", "5m@1h", "BTCUSDT_5m_1h", "3/3"]
    assert str(tmp_path / "rep" / "grid_summary.json") in lines[-1]
    grid = json.loads((tmp_path / "rep" / "grid_summary.json").read_text())
    study = load(Path(grid["pairs"][0]["folder"]) / "summary.json")
    assert set(study.trials[0].params) == {
        "rsi_period", "rsi_low", "rsi_high", "htf_ema", "take_profit_pct",
    }  # fmt: skip
    fp = study.user_attrs["perfopt_objective"]
    assert (fp["fee"], fp["slippage_bps"]) == (0.001, 2.0)
    assert fp["features"] == {"useHTF": True, "useStop": False, "useTakeProfit": True}
