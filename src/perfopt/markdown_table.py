"""The one markdown table writer (reports, grid summaries): cells escaped, one line each."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any


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
