"""A user's own objective: SPEC loading, value checks, stage timers, the Python API, bad input."""

from __future__ import annotations

import math
import subprocess
import sys
import textwrap
from pathlib import Path

import optuna
import pytest

import perfopt
from perfopt import stage
from perfopt.errors import UserError
from perfopt.optimize.user_objective import UserTask, load_callable

COMPLETE = optuna.trial.TrialState.COMPLETE
FAIL = optuna.trial.TrialState.FAIL


def write(tmp_path: Path, name: str, body: str) -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(body))
    return path


def quadratic(trial):
    x = trial.suggest_float("x", -10, 10)
    with stage("data"):
        sum(range(2000))
    with stage("compute"):
        return (x - 2) ** 2


def run(objective, tmp_path, **kw):
    kw.setdefault("storage", "memory")
    kw.setdefault("n_trials", 5)
    return perfopt.optimize(objective, study_name=kw.pop("study_name", "t"), **kw)


def test_import_perfopt_gives_a_callable_optimize_and_stage_is_a_noop_outside():
    assert callable(perfopt.optimize)
    with stage("anything"):  # no timer active: nothing happens, nothing raises
        pass
    assert stage("a") is stage("b")  # the shared do-nothing object


def test_api_runs_exact_trials_and_records_stage_timers(tmp_path):
    study = run(quadratic, tmp_path, n_trials=7, seed=3)
    assert isinstance(study, optuna.Study)
    trials = study.get_trials()
    assert [t.state for t in trials] == [COMPLETE] * 7
    timers = trials[0].user_attrs["timers"]
    assert list(timers) == ["data", "compute", "total", "optuna"]
    assert timers["data"] > 0 and timers["total"] >= timers["data"] + timers["compute"]
    # the trial's suggest call is Optuna's time, not the objective's
    assert timers["optuna"] > 0
    summary = study.perfopt_summary
    assert set(summary["stage_s"]) == {"data", "compute", "total", "optuna"}
    assert 0 < summary["io_ratio"] < 1
    assert summary["stage_p50_p90_s"]["data"][0] > 0
    assert summary["objective"]["spec"].endswith(":quadratic")


def test_spec_file_and_module_forms_load_the_same_function(tmp_path):
    path = write(tmp_path, "obj.py", "def f(trial):\n    return 1.0\n")
    fn = load_callable(f"{path}:f")
    assert fn(None) == 1.0
    assert load_callable(f"{path}:f") is fn  # loaded once per process
    assert load_callable("math:sqrt") is math.sqrt


@pytest.mark.parametrize(
    ("body", "spec_tail", "expected"),
    [
        (None, "missing.py:f", "file"),
        ("x = 1\n", ":nope", "has no 'nope'"),
        ("x = 1\n", ":x", "is a int, not a function"),
        ("import json\nraise ValueError('bad config')\n", ":f", "ValueError: bad config"),
    ],
)
def test_bad_specs_name_the_problem(tmp_path, body, spec_tail, expected):
    if body is None:
        spec = str(tmp_path / spec_tail)
    else:
        spec = f"{write(tmp_path, 'bad.py', body)}{spec_tail}"
    with pytest.raises(UserError, match=expected) as info:
        load_callable(spec)
    assert "--objective" in str(info.value)
    if "ValueError" in expected:  # the user's file and line are named
        assert "bad.py:2" in str(info.value)


def test_bad_module_specs(tmp_path):
    with pytest.raises(UserError, match="no module named 'no_such_pkg_xyz'"):
        load_callable("no_such_pkg_xyz.mod:f")
    with pytest.raises(UserError, match="expected path/to/file.py:function"):
        load_callable("math:")


def test_non_number_and_wrong_count_stop_the_run_with_a_clear_line(tmp_path):
    with pytest.raises(UserError, match=r"returned 'abc' \(str\) in trial 0"):
        run(lambda t: "abc", tmp_path)
    with pytest.raises(UserError, match=r"returned 2 value\(s\) in trial 0 but the study has 1"):
        run(lambda t: (1.0, 2.0), tmp_path)
    with pytest.raises(UserError, match=r"returned 1 value\(s\).*2 direction"):
        run(lambda t: 1.0, tmp_path, directions=["maximize", "minimize"])


def test_an_exception_in_the_objective_stops_the_run_naming_it(tmp_path):
    path = write(tmp_path, "boom.py", "def f(trial):\n    raise KeyError('missing column')\n")
    with pytest.raises(UserError, match="KeyError: 'missing column'") as info:
        run(f"{path}:f", tmp_path)
    assert "boom.py:2" in str(info.value)


def test_nan_fails_the_trial_or_takes_the_penalty_on_the_bad_side(tmp_path):
    study = run(lambda t: math.nan, tmp_path, n_trials=3)
    trials = study.get_trials()
    assert [t.state for t in trials] == [FAIL] * 3  # counted: the run stops at 3
    assert all("returned nan" in t.user_attrs["fail_reason"] for t in trials)
    study = run(lambda t: math.nan, tmp_path, n_trials=2, nan_policy="penalty", nan_penalty=7)
    assert [t.value for t in study.get_trials()] == [7.0, 7.0]  # minimize: +7 is bad
    study = run(
        lambda t: math.inf, tmp_path, n_trials=2, nan_policy="penalty", direction="maximize"
    )
    assert [t.value for t in study.get_trials()] == [-10.0, -10.0]
    assert "penalized" in study.get_trials()[0].user_attrs


def test_multi_objective_returns_a_front(tmp_path):
    def two(trial):
        x = trial.suggest_float("x", 0, 1)
        return x, 1 - x

    study = run(two, tmp_path, n_trials=6, directions=["maximize", "maximize"], seed=1)
    assert len(study.directions) == 2 and study.perfopt_summary["pareto_front"]


def test_setup_value_is_the_second_argument_and_its_time_is_startup(tmp_path):
    path = write(
        tmp_path,
        "with_setup.py",
        """
        import time
        def setup():
            time.sleep(0.2)
            return {"offset": 5.0}
        def f(trial, data):
            return trial.suggest_float("x", 0, 1) + data["offset"]
        def g(trial):
            return 1.0
        """,
    )
    study = run(f"{path}:f", tmp_path, setup=f"{path}:setup", n_trials=3)
    assert all(t.value >= 5.0 for t in study.get_trials())
    assert study.perfopt_summary["workers"][0]["load_s"] >= 0.2
    with pytest.raises(UserError, match="needs two arguments"):
        run(f"{path}:f", tmp_path)
    with pytest.raises(UserError, match="takes one argument"):
        run(f"{path}:g", tmp_path, setup=f"{path}:setup")


def test_reserved_stage_names_are_refused(tmp_path):
    def bad(trial):
        with stage("total"):
            return 1.0

    with pytest.raises(UserError, match="'total' is reserved"):
        run(bad, tmp_path)


def test_backtest_and_hybrid_modes_are_refused(tmp_path):
    for mode in ("backtest", "hybrid"):
        with pytest.raises(UserError, match="use --parallel-mode trial"):
            run(quadratic, tmp_path, mode=mode)


def test_a_lambda_under_spawn_is_refused_with_the_fix(tmp_path):
    with pytest.raises(UserError, match="cannot be pickled for --start-method spawn") as info:
        run(lambda t: 1.0, tmp_path, storage=f"sqlite:///{tmp_path}/s.db", n_jobs=2,
            start_method="spawn")  # fmt: skip
    assert "module level" in str(info.value) and "fork" in str(info.value)


def test_resume_with_another_objective_is_refused(tmp_path):
    url = f"sqlite:///{tmp_path}/r.db"
    run(quadratic, tmp_path, storage=url, n_trials=2, study_name="same")
    study = run(quadratic, tmp_path, storage=url, n_trials=4, study_name="same")
    assert len(study.get_trials()) == 4  # resumed to the new target
    with pytest.raises(UserError, match="other settings"):
        run(lambda t: 0.0, tmp_path, storage=url, n_trials=5, study_name="same")


def test_task_pickles_as_strings():
    import pickle

    task = UserTask("examples/x.py:f", "examples/x.py:setup", ("maximize",))
    assert pickle.loads(pickle.dumps(task)) == task


def cli(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "perfopt", "optimize", *args],
        capture_output=True, text=True, cwd=cwd, timeout=120,
    )  # fmt: skip


def test_cli_bad_input_lines(tmp_path):
    write(tmp_path, "o.py", "def f(trial):\n    return 1.0\n")
    r = cli("--objective", "o.py:g", "--storage", "memory", cwd=tmp_path)
    assert r.returncode == 2 and "o.py has no 'g'" in r.stderr, r.stderr
    r = cli("--objective", "o.py:f", "--data", ".", cwd=tmp_path)
    assert r.returncode == 2 and "--data" in r.stderr and "own data" in r.stderr
    r = cli("--objective", "o.py:f", "--parallel-mode", "hybrid", cwd=tmp_path)
    assert r.returncode == 2 and "--parallel-mode hybrid" in r.stderr
    r = cli("--objective", "sortino", cwd=tmp_path)
    assert r.returncode == 2 and "--metric" in r.stderr
    r = cli("--direction", "maximize", "--data", ".", cwd=tmp_path)
    assert r.returncode == 2 and "--direction: for your own objective" in r.stderr
    r = cli("--objective", "o.py:f", "--multi-objective", cwd=tmp_path)
    assert r.returncode == 2 and "needs --directions" in r.stderr


def test_cli_objective_metric_words_are_deprecated_aliases_of_metric(tmp_path):
    # No data: the run fails on --data after the alias is taken, so the note shows first.
    r = cli("--objective", "total_return", "--symbol", "X", "--timeframe-grid", "1m@1h",
            "--data", str(tmp_path / "none"), cwd=tmp_path)  # fmt: skip
    assert "--objective total_return is deprecated" in r.stderr and "--metric" in r.stderr
    assert "unrecognized" not in r.stderr


def test_cli_memory_run_prints_the_summary(tmp_path):
    write(
        tmp_path,
        "o.py",
        "from perfopt import stage\n"
        "def f(trial):\n"
        "    with stage('data'):\n"
        "        x = trial.suggest_int('x', 0, 9)\n"
        "    return x\n",
    )
    r = cli("--objective", "o.py:f", "--storage", "memory", "--n-trials", "4",
            "--no-progress", "--summary-json", "s.json", cwd=tmp_path)  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert "objective o.py:f" in r.stdout and "4 complete" in r.stdout
    assert "access=" not in r.stdout  # the plan line names only what applies
    import json

    summary = json.loads((tmp_path / "s.json").read_text())
    assert summary["study_counted_trials"] == 4 and summary["directions"] == ["minimize"]
