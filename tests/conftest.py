"""Shared fixtures: small generated data folders written once per test session."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from perfopt.data import generate_panel, write_panel
from perfopt.urls import mask_url


@pytest.fixture(scope="session")
def small_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 40-ticker x 260-day data folder without gaps."""
    out = tmp_path_factory.mktemp("small_data")
    write_panel(generate_panel(40, n_days=260, seed=11), out)
    return out


@pytest.fixture(scope="session")
def gappy_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 60-ticker x 300-day data folder with listings, delistings and suspensions."""
    out = tmp_path_factory.mktemp("gappy_data")
    write_panel(generate_panel(60, n_days=300, seed=5, gaps=True), out)
    return out


POSTGRES_URL = os.environ.get(
    "PERFOPT_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)


def postgres_reachable(url: str = POSTGRES_URL) -> str | None:
    """Return None when the test PostgreSQL answers, else why not."""
    try:
        import psycopg
    except ImportError:
        return "psycopg is not installed (pip install -e '.[postgres]')"
    try:
        with psycopg.connect(url.replace("+psycopg", ""), connect_timeout=3) as conn:
            conn.execute("SELECT 1")
    except psycopg.Error as exc:
        return f"PostgreSQL at {mask_url(url)} is unreachable: {str(exc).splitlines()[0]}"
    return None


@pytest.fixture(scope="session")
def postgres_url() -> str:
    """The test PostgreSQL URL; skips locally when it is down, fails in CI (CI=true)."""
    reason = postgres_reachable()
    if reason:
        if os.environ.get("CI"):
            pytest.fail(f"CI must run the PostgreSQL tests: {reason}")
        pytest.skip(reason)
    return POSTGRES_URL


@pytest.fixture(scope="module")
def one_torch_thread() -> Iterator[None]:
    """Run torch with one intra-op thread for a module, then restore the count.

    Two threads per process made an LSTM step 4x (and self-play 16x) slower on a busy
    2-core machine (docs/platform-notes.md). torch and selfplay tests use it autouse.
    """
    try:
        import torch
    except ImportError:
        yield
        return
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def process_gone(pid: int, wait_s: float = 10.0) -> bool:
    """Wait up to wait_s for pid to exit (a zombie counts as gone); return whether it did."""
    import psutil

    deadline = time.monotonic() + wait_s
    while time.monotonic() < deadline:
        try:
            if psutil.Process(pid).status() == psutil.STATUS_ZOMBIE:
                return True
        except psutil.NoSuchProcess:
            return True
        time.sleep(0.05)
    return False


@pytest.fixture
def gone() -> Callable[..., bool]:
    """`gone(pid, wait_s=10.0)`: whether a process exited within wait_s (see process_gone)."""
    return process_gone
