"""Bar timeframes of the LTF/HTF grid: 1m, 3m, 5m, 15m, 30m, 1h, 4h, 1d."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from perfopt.errors import UserError

# Canonical slug -> minutes. The grid accepts only these (docs/workloads.md).
TIMEFRAME_MINUTES: dict[str, int] = {
    "1m": 1,
    "3m": 3,
    "5m": 5,
    "15m": 15,
    "30m": 30,
    "1h": 60,
    "4h": 240,
    "1d": 1440,
}
ACCEPTED_TIMEFRAMES: tuple[str, ...] = tuple(TIMEFRAME_MINUTES)
_SLUG_BY_MINUTES = {minutes: slug for slug, minutes in TIMEFRAME_MINUTES.items()}
_UNIT_MINUTES = {"m": 1, "min": 1, "h": 60, "d": 1440}
_TEXT = re.compile(r"^(\d+)\s*(m|min|h|d)?$")


@dataclass(frozen=True, order=True)
class Timeframe:
    """A bar length: ordered and compared by minutes; `text` keeps what the user wrote.

    `slug` is the canonical name ("1h"), safe in file and study names; `text` is the
    spelling from the command line ("60", "1H", "60min" all give slug "1h"), which the
    `{ltf}`/`{htf}` template placeholders show.
    """

    minutes: int
    slug: str = field(compare=False)
    text: str = field(default="", compare=False)

    @property
    def nanos(self) -> int:
        """Bar length in nanoseconds (timestamps are int64 ns since the epoch)."""
        return self.minutes * 60_000_000_000

    @property
    def freq_label(self) -> str:
        """Label used in intraday file names (`1min`, `60min`, `1440min`)."""
        return f"{self.minutes}min"

    def __str__(self) -> str:
        return self.slug


def parse_timeframe(text: str) -> Timeframe:
    """Parse "1m", "5min", "1h", "1H", "60" (Pine minutes) or "1d"/"D" into a Timeframe."""
    raw = str(text).strip()
    norm = raw.lower()
    if norm == "d":  # Pine's daily spelling
        norm = "1d"
    match = _TEXT.match(norm)
    minutes = None
    if match:
        minutes = int(match.group(1)) * _UNIT_MINUTES[match.group(2) or "m"]
    if minutes not in _SLUG_BY_MINUTES:
        raise UserError(f"unknown timeframe {raw!r}: use one of {', '.join(ACCEPTED_TIMEFRAMES)}")
    return Timeframe(minutes, _SLUG_BY_MINUTES[minutes], raw)


def parse_freq(text: str) -> Timeframe:
    """Parse a base-bar frequency (`1min`, `5min`, `1h` ...) for generated data files."""
    try:
        return parse_timeframe(text)
    except UserError:
        raise UserError(
            f"unknown --freq {text!r}: use 1min or another of "
            f"{', '.join(ACCEPTED_TIMEFRAMES)} (1d writes the daily panel)"
        ) from None
