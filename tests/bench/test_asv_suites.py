"""The asv suites measure the work: each time_ benchmark, set up and warmed up the way asv
does it, takes about what the workload's own timer says the work took.

Every time_ body returns the workload's own seconds for what it ran (asv ignores return
values); here the body is timed from outside and the two are compared, median against
median, and the first call against the next ones. A body that still paid set-up (imports,
numba's cache load, a first study) would read several times its own timer, as train's
time_epoch did (93% set-up), or its first call, which is all asv --quick times, would.
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
MARGIN = 2.0  # the body may hold a little set-up, never as much as the work
# A first call that paid set-up took 6x (a first Optuna study) to 60x (numba's cache load
# before a 7 ms backtest) the next ones; a busy neighbour can stretch one short call 3x.
FIRST_CALL_MARGIN = 4.0
CALLS = 5

CASES = [
    ("backtest", "Kernels", "time_signals_and_simulate", ("numba", "small")),
    ("backtest", "Kernels", "time_signals_and_simulate", ("reference", "small")),
    ("backtest", "EndToEnd", "time_end_to_end", ("hdf5", "numba")),
    ("optimize", "Storages", "time_study", ("memory",)),
    ("selfplay", "Batching", "time_games", (8,)),
]


CHILD = """
import json, sys, time
sys.path.insert(0, sys.argv[1])
module, cls, method, params, calls = json.loads(sys.argv[2])
import importlib
suite = getattr(importlib.import_module("benchmarks." + module), cls)()
cached = suite.setup_cache()
suite.setup(cached, *params)  # asv: setup (with its warm-up), then the timed body
body = getattr(suite, method)
figures, own = [], []
for _ in range(calls):
    start = time.perf_counter()
    own.append(body(cached, *params))
    figures.append(time.perf_counter() - start)
print(json.dumps({"figures": figures, "own": own}))
"""


@pytest.fixture(scope="module")
def asv_cache(tmp_path_factory) -> Path:
    """asv runs setup_cache in a cache folder of its own; so do these tests."""
    return tmp_path_factory.mktemp("asv-cache")


@pytest.mark.parametrize(("module", "cls", "method", "params"), CASES)
def test_time_benchmark_matches_the_workloads_own_timer(asv_cache, module, cls, method, params):
    if module == "selfplay":
        pytest.importorskip("torch")
    # a fresh process per benchmark, as asv runs them: nothing is warm but what setup warms
    args = json.dumps([module, cls, method, list(params), CALLS])
    done = subprocess.run(
        [sys.executable, "-c", CHILD, str(ROOT), args],
        cwd=asv_cache, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    figures, own = result["figures"], result["own"]
    figure, work = statistics.median(figures), statistics.median(own)
    assert work is not None and 0 < work <= figure * 1.05
    assert figure <= MARGIN * work, (
        f"{module}.{cls}.{method}{params}: {figure:.3f} s per call for {work:.3f} s of work"
    )
    # asv --quick times one call right after setup: it must not pay a first-call cost
    later = statistics.median(figures[1:])
    assert figures[0] <= FIRST_CALL_MARGIN * later, (
        f"{module}.{cls}.{method}{params}: the first call took {figures[0]:.3f} s, the next "
        f"{later:.3f} s (median): setup does not warm it up"
    )


def test_every_time_benchmark_returns_its_own_timer():
    """A new time_ body must hand back its work's seconds so the test above can check it."""
    import ast

    for path in sorted((ROOT / "benchmarks").glob("[!_]*.py")):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef) and node.name.startswith("time_"):
                returns = [n for n in ast.walk(node) if isinstance(n, ast.Return) and n.value]
                kernel_only = node.name in ("time_fused", "time_two_kernel")  # no inner timer
                assert returns or kernel_only, f"{path.name}: {node.name} returns no own timer"
