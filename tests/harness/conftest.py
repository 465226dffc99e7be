"""Fixtures for harness tests: the test-only `toy` workload, importable by child processes."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from perfopt.harness import register_workload, unregister_workload

HERE = Path(__file__).resolve().parent


def _test_workload(monkeypatch: pytest.MonkeyPatch, name: str, class_name: str) -> Iterator[str]:
    """Register a test workload of harness_toy_workloads (importable by child processes)."""
    paths = [str(HERE), os.environ.get("PYTHONPATH", "")]
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(p for p in paths if p))
    monkeypatch.syspath_prepend(str(HERE))
    register_workload(name, f"harness_toy_workloads:{class_name}")
    yield name
    unregister_workload(name)


@pytest.fixture
def toy(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """Register the toy workload for this test (and its child processes); return its name."""
    yield from _test_workload(monkeypatch, "toy", "ToyWorkload")


@pytest.fixture
def probe(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """Register the probe workload (it reports how its process started); return its name."""
    yield from _test_workload(monkeypatch, "probe", "ProbeWorkload")
