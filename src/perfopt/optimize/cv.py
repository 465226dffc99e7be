"""Evaluation windows: walk-forward calendar years or purged k-fold over months.

A window is a range of calendar rows plus the history rows before it that signals need
(momentum lookback up to 250 days, volatility, RSI warm-up). Windows are plain ints so
they pickle to worker processes without numpy.
"""

from __future__ import annotations

import numpy as np

from perfopt.errors import UserError
from perfopt.optimize.config import Window

# Trading days of history loaded before each window: the longest lookback (250) plus
# one for the return and a little for RSI to settle. Fixed, so that every trial and both
# access modes read exactly the same rows and give the same value.
HISTORY_ROWS = 260


def month_end_rows(calendar: np.ndarray) -> np.ndarray:
    """Return the rows that are the last trading day of their month."""
    months = calendar.astype("datetime64[M]")
    ends = np.flatnonzero(months[1:] != months[:-1])
    return np.append(ends, len(calendar) - 1)


def _window(calendar: np.ndarray, label: str, first_day: str, last_day: str) -> Window:
    lo = int(np.searchsorted(calendar, np.datetime64(first_day, "D"), side="left"))
    hi = int(np.searchsorted(calendar, np.datetime64(last_day, "D"), side="right")) - 1
    if hi < lo:
        raise UserError(
            f"window {label} ({first_day}..{last_day}) has no trading days in the data "
            f"({calendar[0]}..{calendar[-1]}); narrow --start/--end or regenerate the data"
        )
    n_month_ends = int(np.sum((month_end_rows(calendar) >= lo) & (month_end_rows(calendar) <= hi)))
    has_previous = lo > 0
    if n_month_ends + has_previous < 3:
        raise UserError(
            f"window {label} ({first_day}..{last_day}) holds {n_month_ends} month end(s) in the "
            f"data ({calendar[0]}..{calendar[-1]}); a Sharpe needs at least 2 monthly returns: "
            "widen --start/--end"
        )
    return Window(label, max(0, lo - HISTORY_ROWS), lo, hi)


def walk_forward_windows(calendar: np.ndarray, start: str, end: str) -> list[Window]:
    """One window per calendar year between start and end (partial years clipped)."""
    first_year, last_year = int(start[:4]), int(end[:4])
    windows = []
    for year in range(first_year, last_year + 1):
        lo = max(start, f"{year}-01-01")
        hi = min(end, f"{year}-12-31")
        windows.append(_window(calendar, str(year), lo, hi))
    return windows


def purged_kfold_windows(
    calendar: np.ndarray, start: str, end: str, folds: int, embargo_months: int
) -> list[Window]:
    """k contiguous folds of whole months; each fold drops its first `embargo_months`.

    With no model fitted per fold, purging reduces to keeping the folds' holding periods
    apart: the embargo drops the months right after the previous fold's test period, so
    no monthly return sits next to a fold boundary in two folds' scores.
    """
    months = np.arange(np.datetime64(start[:7], "M"), np.datetime64(end[:7], "M") + 1)
    if len(months) < folds * (embargo_months + 2):
        raise UserError(
            f"{start}..{end} has {len(months)} months: too few for {folds} folds with "
            f"{embargo_months} embargo month(s) and 2 returns each; lower --cv-folds or widen the dates"
        )
    windows = []
    for k, chunk in enumerate(np.array_split(months, folds)):
        kept = chunk[embargo_months:] if k > 0 else chunk
        lo = max(start, str(kept[0]) + "-01")
        month_after = kept[-1] + 1
        hi = min(end, str(month_after.astype("datetime64[D]") - 1))
        windows.append(_window(calendar, f"fold{k + 1}", lo, hi))
    return windows


def build_windows(
    calendar: np.ndarray, cv: str, start: str, end: str, folds: int = 4, embargo_months: int = 1
) -> list[Window]:
    """Windows of the named cross-validation scheme on this calendar."""
    if len(calendar) == 0:
        raise UserError("the price data has no dates; regenerate it")
    if cv == "walk-forward":
        return walk_forward_windows(calendar, start, end)
    if cv == "purged-kfold":
        return purged_kfold_windows(calendar, start, end, folds, embargo_months)
    raise UserError(f"unknown --cv {cv!r}; choose walk-forward or purged-kfold")
