"""Small HDF5 sequence files shared by the training tests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from perfopt.train.sequences import write_sequences


@pytest.fixture(scope="session")
def seq_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """200 samples x 12 steps x 4 features, horizon 2 (200 is not a multiple of the batch sizes)."""
    return write_sequences(tmp_path_factory.mktemp("seq") / "seq.h5", 200, 12, 4, horizon=2, seed=3)


@pytest.fixture(autouse=True, scope="module")
def _one_torch_thread() -> Iterator[None]:
    """One torch thread: two made an LSTM step 4x slower on a busy 2-core machine."""
    try:
        import torch
    except ImportError:
        yield
        return
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
