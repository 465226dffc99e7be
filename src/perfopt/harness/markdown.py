"""Markdown helpers for reports: the table writer (perfopt.markdown_table) and the value
formats every report table shares."""

from __future__ import annotations

from typing import Any

from perfopt.markdown_table import cell, inline, table  # noqa: F401 - the report's helpers
from perfopt.units import fmt_bytes, fmt_duration, fmt_number


def number(x: Any) -> str:
    """A metric for a table: 4 significant digits; a NaN or missing one reads "-"."""
    return fmt_number(x)


def value(x: Any) -> str:
    """A parameter's value: booleans lower-case, None as "-"."""
    return "-" if x is None else str(x).lower() if isinstance(x, bool) else str(x)


def duration(x: Any) -> str:
    """Seconds in the unit that reads best; "?" when unknown."""
    return "?" if x is None else fmt_duration(x)


def size(n: Any) -> str:
    """A byte count in binary units (nothing recorded reads as 0 B)."""
    return fmt_bytes(n or 0)
