"""Human units for terminal output and reports: bytes, durations, percentages, counts.

Every command prints its figures through these helpers, so a byte count reads
"11.8 MiB" everywhere and a missing or NaN value reads "-" (never "nan" or "None").
Binary prefixes (KiB, MiB, GiB) are used for memory and file sizes, as psutil and
torch report them.
"""

from __future__ import annotations

import math
from typing import Any

MISSING = "-"

__all__ = [
    "MISSING",
    "fmt_bytes",
    "fmt_count",
    "fmt_duration",
    "fmt_number",
    "fmt_pct",
    "fmt_rate",
    "fmt_value",
    "is_missing",
]


def is_missing(x: Any) -> bool:
    """True for None and for a float NaN: values a table shows as "-"."""
    return x is None or (isinstance(x, float) and math.isnan(x))


def fmt_bytes(n: Any) -> str:
    """A byte count in binary units: 512 B, 11.8 MiB, 1.50 GiB."""
    if is_missing(n):
        return MISSING
    x = float(n)
    sign = "-" if x < 0 else ""
    x = abs(x)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if x < 1024 or unit == "TiB":
            if unit == "B":
                return f"{sign}{x:.0f} B"
            return f"{sign}{x:.2f} {unit}" if x < 10 else f"{sign}{x:.1f} {unit}"
        x /= 1024
    raise AssertionError("unreachable")


def fmt_duration(seconds: Any) -> str:
    """A duration: 850 us, 12.3 ms, 4.21 s, 2 min 05 s, 1 h 02 min."""
    if is_missing(seconds):
        return MISSING
    s = float(seconds)
    if math.isinf(s):
        return "inf"
    sign = "-" if s < 0 else ""
    s = abs(s)
    if s == 0:
        return "0 s"
    if s < 1e-3:
        return f"{sign}{s * 1e6:.3g} us"
    if s < 1:
        return f"{sign}{s * 1e3:.3g} ms"
    if s < 60:
        return f"{sign}{s:.3g} s" if s < 10 else f"{sign}{s:.1f} s"
    if s < 3600:
        minutes, secs = divmod(int(round(s)), 60)
        return f"{sign}{minutes} min {secs:02d} s"
    hours, rest = divmod(int(round(s)), 3600)
    return f"{sign}{hours} h {rest // 60:02d} min"


def fmt_pct(fraction: Any, digits: int = 0) -> str:
    """A fraction as a percentage: 0.415 -> "41.5%" with digits=1."""
    if is_missing(fraction):
        return MISSING
    return f"{100 * float(fraction):.{digits}f}%"


def fmt_count(n: Any) -> str:
    """An integer count with thousands separators: 378,000."""
    if is_missing(n):
        return MISSING
    return f"{int(round(float(n))):,}"


def fmt_rate(x: Any, unit: str) -> str:
    """A rate such as samples/s: three significant digits, separators past 10,000."""
    if is_missing(x):
        return MISSING
    return f"{fmt_number(x)} {unit}"


def fmt_number(x: Any) -> str:
    """A plain number for a table: 4 significant digits, separators past 10,000, "-" if missing."""
    if is_missing(x):
        return MISSING
    if isinstance(x, bool):
        return str(x).lower()
    if isinstance(x, int):
        return f"{x:,}" if abs(x) >= 10000 else str(x)
    if isinstance(x, float):
        if math.isinf(x):
            return "inf" if x > 0 else "-inf"
        return f"{x:,.0f}" if abs(x) >= 10000 else f"{x:.4g}"
    return str(x)


def fmt_value(x: Any) -> str:
    """Any table value: numbers via fmt_number, booleans lower-case, missing as "-"."""
    if isinstance(x, int | float) or x is None:
        return fmt_number(x)
    return str(x)
