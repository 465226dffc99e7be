"""Small HDF5 sequence files shared by the training tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from perfopt.train.sequences import write_sequences


@pytest.fixture(scope="session")
def seq_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """200 samples x 12 steps x 4 features, horizon 2 (200 is not a multiple of the batch sizes)."""
    return write_sequences(tmp_path_factory.mktemp("seq") / "seq.h5", 200, 12, 4, horizon=2, seed=3)


@pytest.fixture(autouse=True, scope="module")
def _one_torch_thread(one_torch_thread: None) -> None:
    """Every training test module runs with one torch thread (tests/conftest.py)."""
