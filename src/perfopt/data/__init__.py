"""Market data: the panel type, synthetic generators, stores and CSV import."""

from __future__ import annotations

from perfopt.data.panel import FIELDS, Panel
from perfopt.data.stores import (
    ACCESS_MODES,
    SOURCES,
    PriceStore,
    describe,
    open_store,
    resolve_data_dir,
)
from perfopt.data.synthetic import generate_panel
from perfopt.data.writers import write_panel

__all__ = [
    "ACCESS_MODES",
    "FIELDS",
    "SOURCES",
    "Panel",
    "PriceStore",
    "describe",
    "generate_panel",
    "open_store",
    "resolve_data_dir",
    "write_panel",
]
