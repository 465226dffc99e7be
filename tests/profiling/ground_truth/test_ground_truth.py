"""The ground-truth suite: programs of known behaviour must get their verdict kind.

Each program runs once under `profile_command` with every view on (thread states, py-spy
with native frames where it works), as a user's `perfopt profile -- CMD` would.
`scripts/attribution_accuracy.py` runs the same cases several times and prints the table.
"""

from __future__ import annotations

import importlib.util
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from perfopt.profiling import profile_command, pyspy_available

_spec = importlib.util.spec_from_file_location(
    "perfopt_ground_truth_cases", Path(__file__).resolve().parent / "cases.py"
)
assert _spec is not None and _spec.loader is not None
cases = importlib.util.module_from_spec(_spec)
sys.modules[_spec.name] = cases  # dataclasses look their module up by name
_spec.loader.exec_module(cases)
CASES, MIXED_PARTS = cases.CASES, cases.MIXED_PARTS

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not sys.platform.startswith("linux"), reason="thread states need /proc"),
]


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Path]]:
    """The programs' data files; the big disk file on a disk filesystem, deleted after."""
    root = tmp_path_factory.mktemp("ground-truth")
    disk = cases.disk_folder(root, Path.home() / ".cache" / "perfopt-ground-truth")
    if disk is None:
        pytest.skip("no disk-backed folder for the O_DIRECT file (tmp and ~/.cache are tmpfs)")
    made = cases.prepare(root, disk / f"ground-truth-{root.name}")
    yield made
    shutil.rmtree(made["disk_file"].parent, ignore_errors=True)
    shutil.rmtree(root, ignore_errors=True)


def test_pyspy_can_watch_here() -> None:
    # The suite is about attribution; without py-spy it would test the fallback only.
    ok, reason = pyspy_available()
    assert ok, reason


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_program_gets_its_kind(case, files: dict[str, Path], tmp_path: Path) -> None:
    result = profile_command(case.argv(files), tmp_path / "profile", env=dict(case.env))
    verdict = result["verdict"]
    shown = f"{verdict['kind']}: {verdict['text']} shares={verdict.get('shares')}"
    assert verdict["kind"] == case.truth, shown
    for kind in MIXED_PARTS.get(case.name, ()):
        assert verdict["shares"].get(kind, 0.0) >= 0.30, shown
    if case.truth == "failed":
        assert verdict["shares"] == {} and "no bound-ness verdict" in verdict["text"]
    else:
        # every watched program records what watching it cost
        assert result["overhead"]["sampler_cpu_s"] is not None
        assert result["overhead"]["pyspy_cpu_s"] is not None
