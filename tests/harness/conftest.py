"""Fixtures for harness tests: the test-only `toy` workload, importable by child processes."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from perfopt.harness import register_workload, unregister_workload

HERE = Path(__file__).resolve().parent


@pytest.fixture
def toy(monkeypatch: pytest.MonkeyPatch) -> str:
    """Register the toy workload for this test (and its child processes); return its name."""
    paths = [str(HERE), os.environ.get("PYTHONPATH", "")]
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(p for p in paths if p))
    monkeypatch.syspath_prepend(str(HERE))
    register_workload("toy", "harness_toy_workloads:ToyWorkload")
    yield "toy"
    unregister_workload("toy")
