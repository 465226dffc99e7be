"""Shared fixtures: small daily data folders, intraday bars, study names, PostgreSQL."""

from __future__ import annotations

import contextlib
import uuid
from pathlib import Path

import numpy as np
import pytest

from perfopt.data import Panel, generate_panel, write_panel

START, END = "2022-01-01", "2023-12-31"


@pytest.fixture(scope="session")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """12 tickers, 2021-2023: two walk-forward windows with a year of history before."""
    out = tmp_path_factory.mktemp("optdata")
    write_panel(generate_panel(12, "2021-01-01", "2023-12-31", seed=5), out)
    return out


@pytest.fixture(scope="session")
def flat_data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Constant prices: every monthly return is 0, so every Sharpe is NaN."""
    out = tmp_path_factory.mktemp("flatdata")
    base = generate_panel(6, "2021-01-01", "2023-12-31", seed=1)
    ones = np.full(base.close.shape, 10.0)
    write_panel(Panel(base.dates, base.tickers, ones, ones, ones, ones, ones), out)
    return out


@pytest.fixture
def study_name() -> str:
    """A study name no other test uses."""
    return f"t-{uuid.uuid4().hex[:10]}"


@pytest.fixture(scope="session")
def intraday_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Four days of 1-minute BTCUSDT bars (5,760 bars)."""
    from perfopt.intraday import write_intraday

    out = tmp_path_factory.mktemp("intraday")
    write_intraday(out, ["BTCUSDT"], days=4)
    return out


@pytest.fixture
def pg_url(study_name: str, postgres_url: str):
    """The test PostgreSQL URL (tests/conftest.py); the study is deleted afterwards."""
    yield postgres_url
    delete_studies(postgres_url, [study_name])


def delete_studies(url: str, names: list[str]) -> None:
    """Delete studies from a storage, ignoring those that do not exist."""
    import optuna

    for name in names:
        with contextlib.suppress(KeyError):
            optuna.delete_study(study_name=name, storage=url)
