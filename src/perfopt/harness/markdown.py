"""Markdown helpers for reports: one table writer, one inline-text cleaner, and the
value formats every report table shares."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from perfopt.units import fmt_bytes, fmt_duration, fmt_number


def table(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> list[str]:
    """A GitHub-flavoured table: header, rule, one line per row, cells escaped."""
    # an empty header cell is written "| |", the way a key/value table's header reads
    head = "|" + "|".join(f" {c} " if c else " " for c in (cell(h) for h in header)) + "|"
    out = [head, "|" + "---|" * len(header)]
    out += ["| " + " | ".join(cell(x) for x in row) + " |" for row in rows]
    return out


def cell(x: Any) -> str:
    """Text fit for a table cell: one line, pipes escaped."""
    return inline(str(x)).replace("|", "\\|")


def inline(text: str) -> str:
    """Collapse whitespace (newlines included) to single spaces."""
    return " ".join(str(text).split())


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
