"""Shared helpers for the asv suites: generated data under asv's cache folder."""

from __future__ import annotations

import os


def make_data_folder(name: str, tickers: int, days: int, seed: int = 7) -> str:
    """Generate a data folder under the current directory once and return its path."""
    from perfopt.data import generate_panel, write_panel

    folder = os.path.abspath(name)
    if not os.path.exists(os.path.join(folder, "prices.h5")):
        write_panel(generate_panel(tickers, n_days=days, seed=seed), folder)
    return folder
