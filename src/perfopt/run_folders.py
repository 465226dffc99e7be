"""Run-folder naming: the one UTC timestamp every command puts in its output folder's name."""

from __future__ import annotations

from datetime import UTC, datetime

# Sorts as text in time order and holds no character a file system refuses.
RUN_STAMP_FORMAT = "%Y%m%dT%H%M%SZ"


def run_stamp(now: datetime | None = None) -> str:
    """UTC timestamp for run-folder names, e.g. 20240102T030405Z."""
    now = now or datetime.now(UTC)
    return now.astimezone(UTC).strftime(RUN_STAMP_FORMAT)
