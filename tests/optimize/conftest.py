"""Shared fixtures: a small generated data folder and a flat one (NaN Sharpe everywhere)."""

from __future__ import annotations

import contextlib
import uuid
from pathlib import Path

import numpy as np
import pytest

from perfopt.data import Panel, generate_panel, write_panel

PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
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


def postgres_reason() -> str | None:
    """Why PostgreSQL tests cannot run here, or None."""
    try:
        import psycopg

        psycopg.connect(
            "host=127.0.0.1 port=5432 user=postgres dbname=test", connect_timeout=3
        ).close()
    except Exception as exc:  # any failure means: skip with the reason shown
        return f"PostgreSQL on 127.0.0.1:5432 unreachable: {exc}"
    return None


@pytest.fixture
def pg_url(study_name: str):
    """The test PostgreSQL URL; the study is deleted afterwards."""
    reason = postgres_reason()
    if reason:
        pytest.skip(reason)
    yield PG_URL
    import optuna

    with contextlib.suppress(KeyError):
        optuna.delete_study(study_name=study_name, storage=PG_URL)
