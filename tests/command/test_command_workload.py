"""The command workload: placeholders, metrics from stdout, failures with stderr tails."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from perfopt.command import CommandWorkload, find_placeholders, substitute
from perfopt.command.workload import CommandFailed, check_command
from perfopt.errors import UserError


def test_substitute_only_known_placeholders() -> None:
    assert substitute("--n-jobs {n_jobs}", {"n_jobs": 2}) == "--n-jobs 2"
    # literal braces in code survive
    assert substitute("d = {}; e = {other}; {n}", {"n": 1}) == "d = {}; e = {other}; 1"
    assert find_placeholders(["x", "{a}-{b}", "{}"]) == {"a", "b"}


def test_run_measures_and_reads_metrics(tmp_path: Path) -> None:
    code = "import os; print('PERFOPT_METRIC rate={n}.5'); print('PERFOPT_METRIC wd=' + str(len(os.environ['PERFOPT_WORKDIR'])))"
    params = {"argv": [sys.executable, "-c", code], "n": 3}
    workload = CommandWorkload()
    assert workload.skip_reason(params) is None
    m = workload.run(params, tmp_path, tmp_path)
    assert m.seconds > 0 and m.stages == {"command": m.seconds}
    assert m.metrics["rate"] == 3.5 and m.metrics["wd"] == len(str(tmp_path))
    assert m.info["argv"][-1].startswith("import os; print('PERFOPT_METRIC rate=3.5')")


def test_nonzero_exit_fails_with_stderr_tail(tmp_path: Path) -> None:
    code = "import sys; sys.stderr.write('x' * 5000 + 'THE END'); sys.exit(3)"
    with pytest.raises(CommandFailed, match=r"exit status 3: x+THE END") as err:
        CommandWorkload().run({"argv": [sys.executable, "-c", code]}, tmp_path, tmp_path)
    assert len(str(err.value)) < 2100  # a tail, not the whole stream


def test_env_and_missing_placeholders(tmp_path: Path) -> None:
    code = "import os; print('PERFOPT_METRIC v=' + os.environ['MY_V'])"
    m = CommandWorkload().run(
        {"argv": [sys.executable, "-c", code], "env": {"MY_V": "{v}"}, "v": 7}, tmp_path, tmp_path
    )
    assert m.metrics == {"v": 7.0}
    assert "{w} have no value" in CommandWorkload().skip_reason({"argv": ["echo", "{w}"]})
    assert CommandWorkload().skip_reason({}) == "command workload needs argv = [program, args...]"


def test_check_command(tmp_path: Path) -> None:
    check_command([sys.executable])
    with pytest.raises(UserError, match="not found on PATH"):
        check_command(["perfopt-no-such-program"])
    with pytest.raises(UserError, match="not an executable file"):
        check_command([str(tmp_path / "missing.sh")])
    with pytest.raises(UserError, match="no command given"):
        check_command([])
