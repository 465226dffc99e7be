"""CUDA tests: every test here is marked `gpu` and skips with the reason without CUDA."""

from __future__ import annotations

from pathlib import Path

import pytest

NO_CUDA = (
    "CUDA is not available: torch sees no GPU on this machine; these tests run on a GPU "
    "machine (scripts/device_check.sh runs them there)"
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark every test of this folder `gpu` (so `pytest -m gpu` selects them)."""
    here = Path(__file__).parent
    for item in items:
        if here in Path(item.fspath).parents:
            item.add_marker(pytest.mark.gpu)


@pytest.fixture(scope="session")
def cuda():  # noqa: ANN201 - a torch.device
    """The CUDA device, or a skip naming why there is none."""
    torch = pytest.importorskip("torch", reason="torch is not installed")
    if not torch.cuda.is_available():
        pytest.skip(NO_CUDA)
    return torch.device("cuda")


@pytest.fixture(scope="session")
def seq_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """2,000 samples x 16 steps x 8 features (~1 MiB): several chunks at a small chunk size."""
    from perfopt.train.sequences import write_sequences

    return write_sequences(tmp_path_factory.mktemp("gpu") / "seq.h5", 2000, 16, 8, 1, seed=4)
