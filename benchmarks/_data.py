"""Shared helpers for the asv suites: generated data and workload runs in asv's cache."""

from __future__ import annotations

import importlib
import os
import tempfile


def make_data_folder(name: str, tickers: int, days: int, seed: int = 7) -> str:
    """Generate a data folder under the current directory once and return its path."""
    from perfopt.data import generate_panel, write_panel

    folder = os.path.abspath(name)
    if not os.path.exists(os.path.join(folder, "prices.h5")):
        write_panel(generate_panel(tickers, n_days=days, seed=seed), folder)
    return folder


def workload(path: str):
    """Return a workload instance from "module:Class", or skip (NotImplementedError).

    Older commits lack some workloads, and torch may be missing: asv then skips the
    benchmark instead of failing it.
    """
    module_name, _, cls = path.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise NotImplementedError(f"{module_name} is not importable here: {exc}") from None
    if not hasattr(module, cls):
        raise NotImplementedError(f"{path} is not in this commit")
    return getattr(module, cls)()


def prepared(wl, params: dict, cache: str) -> dict:
    """Fill defaults, check the combination and prepare its data in `cache`."""
    from pathlib import Path

    full = {**wl.defaults, **params}
    reason = wl.skip_reason(full)
    if reason:
        raise NotImplementedError(reason)
    wl.prepare(full, Path(cache))
    return full


def measure(wl, params: dict, cache: str):
    """Run one configuration in a fresh work folder and return its Measurement."""
    from pathlib import Path

    with tempfile.TemporaryDirectory() as workdir:
        return wl.run(params, Path(cache), Path(workdir))
