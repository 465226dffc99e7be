"""A user's own matrix: `workload = "objective"`, a user Workload class, [[target]] claims."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from perfopt.errors import UserError
from perfopt.harness import cells as cells_mod
from perfopt.harness.spec import load_spec
from perfopt.harness.user_targets import from_json, to_json

OBJECTIVE = """
import time
from perfopt import stage

def objective(trial):
    x = trial.suggest_float("x", -5, 5)
    with stage("data"):
        time.sleep(0.002)
    with stage("compute"):
        s = 0
        for i in range(20000):
            s += i
    return (x - 1) ** 2
"""

WORKLOAD = """
import time
from perfopt import Measurement, Workload

class Spin(Workload):
    name = "spin"
    axes = {"loops": [10000, 40000]}
    defaults = {"loops": 10000}
    problem_axes = {"loops": "more work"}

    def run(self, params, cache_dir, workdir):
        start = time.perf_counter()
        s = 0
        for i in range(int(params["loops"])):
            s += i
        seconds = time.perf_counter() - start
        return Measurement(seconds=seconds, stages={"loop": seconds},
                           metrics={"loops_per_s": params["loops"] / seconds})
"""

MATRIX = """
name = "mine"
repeats = 3
pyspy = false

[[grid]]
name = "my-objective"
workload = "objective"
objective = "obj.py:objective"
fixed = { n_trials = 6, storage = "journal", n_jobs = 1 }
axes = { mode = ["trial", "thread"] }

[[grid]]
name = "my-class"
workload = "spin_workload.py:Spin"
axes = { loops = [10000, 40000] }

[[target]]
id = "spin-under-10s"
kind = "threshold"
workload = "spin_workload.py:Spin"
metric = "seconds"
limit = 10.0

[[target]]
id = "more-loops-slower"
kind = "comparison"
claim = "4x the loops takes at least 1.5x as long"
workload = "spin_workload.py:Spin"
axis = "loops"
base = [40000]
variants = [10000]
metric = "seconds"
higher_is_better = false
claim_low = 1.5
"""


@pytest.fixture
def matrix_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "mine"
    folder.mkdir()
    (folder / "obj.py").write_text(textwrap.dedent(OBJECTIVE))
    (folder / "spin_workload.py").write_text(textwrap.dedent(WORKLOAD))
    (folder / "my.toml").write_text(textwrap.dedent(MATRIX))
    return folder


def test_spec_resolves_paths_from_the_toml_folder_and_parses_targets(matrix_dir, tmp_path):
    spec = load_spec(str(matrix_dir / "my.toml"))
    grid = spec.grids[0]
    assert grid.fixed["objective"] == f"{matrix_dir / 'obj.py'}:objective"
    assert spec.grids[1].workload == f"{matrix_dir / 'spin_workload.py'}:Spin"
    assert [t.id for t in spec.targets] == ["spin-under-10s", "more-loops-slower"]
    assert from_json(json.loads(json.dumps(to_json(spec.targets)))) == spec.targets
    cells = cells_mod.expand(spec)
    assert len(cells) == 4 and not [c for c in cells if c.skip]
    assert all("/" not in c.cell_id for c in cells)
    assert {c.workload for c in cells} == {"objective", "Spin"}


@pytest.mark.parametrize(
    ("edit", "expected"),
    [
        (('objective = "obj.py:objective"', ""), 'needs objective = "path.py:function"'),
        (('kind = "threshold"', 'kind = "above"'), 'kind must be "threshold" or "comparison"'),
        (("limit = 10.0", "limit = 10.0\nlimt = 3"), "unknown key"),
        (('workload = "spin_workload.py:Spin"\nmetric = "seconds"\nlimit',
          'workload = "nope"\nmetric = "seconds"\nlimit'), "is in no grid"),
    ],
)
def test_bad_user_matrix_files_name_the_problem(matrix_dir, edit, expected):
    path = matrix_dir / "my.toml"
    text = path.read_text()
    assert edit[0] in text
    path.write_text(text.replace(edit[0], edit[1], 1))
    with pytest.raises(UserError, match=expected):
        load_spec(str(path))


def test_a_class_that_is_not_a_workload_is_refused(matrix_dir):
    (matrix_dir / "spin_workload.py").write_text("class Spin:\n    pass\n")
    with pytest.raises(UserError, match="not a subclass of perfopt.Workload"):
        cells_mod.expand(load_spec(str(matrix_dir / "my.toml")))


@pytest.mark.slow
def test_matrix_over_a_user_objective_and_class_judges_their_targets(matrix_dir, tmp_path):
    out = tmp_path / "run"
    r = subprocess.run(
        [sys.executable, "-m", "perfopt", "matrix", "--preset", "my.toml", "--out", str(out)],
        capture_output=True, text=True, cwd=matrix_dir, timeout=600,
    )  # fmt: skip
    assert r.returncode == 0, r.stderr[-3000:]
    lines = [json.loads(x) for x in (out / "results.jsonl").read_text().splitlines()]
    cells = [x for x in lines if x.get("kind") == "cell"]
    assert len(cells) == 4 and all(c["status"] == "ok" for c in cells)
    objective_cells = [c for c in cells if c["workload"] == "objective"]
    for c in objective_cells:
        m = c["measurement"]
        assert m["metrics"]["complete"] == 6 and m["metrics"]["trials_per_s"] > 0
        assert {"data", "compute"} <= set(m["stages"])
    report = (out / "REPORT.md").read_text()
    assert "spin-under-10s" in report and "more-loops-slower" in report
    row = next(x for x in report.splitlines() if x.startswith("| spin-under-10s"))
    assert "PASS" in row
    # the built-in teams' claims are about other workloads: not judged here
    assert "trial-parallel-2-3x" not in report
    assert "## Recommendations" in report or "Recommendation" in report


def test_until_ci_narrows_the_pairs_of_a_user_comparison(matrix_dir):
    from perfopt.harness.schedule import wide_cells

    spec = load_spec(str(matrix_dir / "my.toml"))
    spin = [c for c in cells_mod.expand(spec) if c.workload == "Spin"]
    # two cells, a noisy ratio (+-50%): both are in the judged pair of the user's claim
    lines = []
    for c, runs in zip(spin, ([1.0, 2.0, 1.5], [4.0, 8.0, 6.0]), strict=True):
        lines.append({
            "schema": 3, "kind": "cell", "matrix": "mine", "cell_id": c.cell_id,
            "label": c.label, "workload": c.workload, "grid": c.grid, "params": c.params,
            "baseline": c.baseline, "status": "ok", "error": None, "repeats": runs,
            "problem_axes": dict(c.problem_axes),
            "runs": [{"seconds": s, "metrics": {}, "stages": {}} for s in runs],
            "measurement": {"seconds": runs[1], "stages": {}, "metrics": {}, "info": {}},
            "environment": {"hostname": "h", "commit": "c", "physical_cores": 2},
        })  # fmt: skip
    assert {c.cell_id for c in spin} <= wide_cells(lines, 0.1, spec.targets)
    # "loops" changes the problem, so no recommendation compares them: only the claim
    assert not wide_cells(lines, 0.1)
