"""Shared fixtures: small generated data folders written once per test session."""

from __future__ import annotations

from pathlib import Path

import pytest

from perfopt.data import generate_panel, write_panel


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
