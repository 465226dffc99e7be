"""`perfopt advise` on a CPU-bound and a sleep-bound objective, with real processes."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from perfopt.advise.plan import advise, parse_budget
from perfopt.errors import UserError
from perfopt.optimize.user_objective import UserTask

CPU = """
def objective(trial):
    x = trial.suggest_float("x", -10, 10)
    s = 0
    for i in range(300_000):
        s += i
    return (x - 2) ** 2
"""

SLEEP = """
import time
from perfopt import stage

def objective(trial):
    x = trial.suggest_float("x", -10, 10)
    with stage("data"):
        time.sleep(0.05)
    return (x - 2) ** 2
"""


def write(tmp_path: Path, name: str, body: str) -> str:
    path = tmp_path / name
    path.write_text(textwrap.dedent(body))
    return f"{path}:objective"


def test_budget_parsing():
    assert parse_budget("120s") == 120 and parse_budget("2m") == 120 and parse_budget("45") == 45
    with pytest.raises(UserError, match="--budget"):
        parse_budget("soon")
    with pytest.raises(UserError, match="at least 10 s"):
        parse_budget("3s")


def test_bad_spec_fails_before_probing(tmp_path):
    with pytest.raises(UserError, match="has no 'objective'"):
        advise(UserTask(f"{write(tmp_path, 'e.py', 'x = 1')}"), 30)


@pytest.mark.slow
def test_cpu_bound_objective_gets_processes(tmp_path):
    out = tmp_path / "a.json"
    r = subprocess.run(
        [sys.executable, "-m", "perfopt", "advise", "--objective", write(tmp_path, "cpu.py", CPU),
         "--budget", "30s", "--json", str(out)],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    advice = json.loads(out.read_text())
    plan = {c["setting"]: c for c in advice["choices"]}
    assert plan["mode"]["value"] == "trial" and not advice["threads_acceptable"]
    assert "CPU-bound" in plan["mode"]["reason"] or "2 threads" in plan["mode"]["reason"]
    assert advice["trial"]["cpu_per_wall"] > 0.5
    assert set(advice["storages"]) >= {"memory", "journal", "sqlite"}
    assert plan["storage"]["value"] in ("journal", "sqlite")
    assert "fork" in advice["startup"] and "spawn" in advice["startup"]
    assert all(len(v) >= 2 for v in advice["scaling"]["rates"].values())
    assert "recommended plan:" in r.stdout and "run it: perfopt optimize" in r.stdout


@pytest.mark.slow
def test_sleep_bound_objective_finds_threads_acceptable(tmp_path):
    advice = advise(UserTask(write(tmp_path, "sleepy.py", SLEEP)), 30)
    assert advice.threads_acceptable
    assert advice.trial.cpu_per_wall < 0.5
    assert advice.trial.stages["data"] >= 0.05
    assert "threads are acceptable" in advice.choices[0].reason
