"""Self-play tests run torch with one thread (see `one_torch_thread` in tests/conftest.py)."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True, scope="module")
def _one_torch_thread(one_torch_thread: None) -> None:
    """Every self-play test module runs with one torch thread."""
