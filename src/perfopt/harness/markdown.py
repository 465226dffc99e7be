"""Markdown helpers for reports: one table writer, one inline-text cleaner."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any


def table(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> list[str]:
    """A GitHub-flavoured table: header, rule, one line per row, cells escaped."""
    out = ["| " + " | ".join(cell(h) for h in header) + " |", "|" + "---|" * len(header)]
    out += ["| " + " | ".join(cell(x) for x in row) + " |" for row in rows]
    return out


def cell(x: Any) -> str:
    """Text fit for a table cell: one line, pipes escaped."""
    return inline(str(x)).replace("|", "\\|")


def inline(text: str) -> str:
    """Collapse whitespace (newlines included) to single spaces."""
    return " ".join(str(text).split())
