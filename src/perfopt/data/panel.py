"""The market-data panel: trading dates x tickers, one float64 array per field."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

FIELDS = ("open", "high", "low", "close", "volume")
LONG_COLUMNS = ("date", "ticker", *FIELDS)


@dataclass(frozen=True)
class Panel:
    """Daily bars for a universe: `dates` ascending and unique, NaN marks a missing bar.

    Every field array has shape (n_dates, n_tickers) and dtype float64; a missing bar is
    NaN in every field (backtest.md, "Data").
    """

    dates: np.ndarray  # datetime64[D], shape (n_dates,)
    tickers: tuple[str, ...]
    open: np.ndarray
    high: np.ndarray
    low: np.ndarray
    close: np.ndarray
    volume: np.ndarray

    def __post_init__(self) -> None:
        shape = (len(self.dates), len(self.tickers))
        for name in FIELDS:
            if getattr(self, name).shape != shape:
                raise ValueError(f"field {name} has shape {getattr(self, name).shape}, expected {shape}")

    @property
    def n_dates(self) -> int:
        """Number of trading dates."""
        return len(self.dates)

    @property
    def n_tickers(self) -> int:
        """Number of tickers."""
        return len(self.tickers)

    def field(self, name: str) -> np.ndarray:
        """Return one field's (n_dates, n_tickers) array."""
        return getattr(self, name)

    def date_strings(self) -> list[str]:
        """Return the dates as 'YYYY-MM-DD' strings."""
        return np.datetime_as_string(self.dates, unit="D").tolist()

    def select(self, tickers: Sequence[str]) -> Panel:
        """Return the panel restricted to `tickers`, in the order given."""
        index = {t: i for i, t in enumerate(self.tickers)}
        cols = [index[t] for t in tickers]
        return Panel(
            self.dates, tuple(tickers), *(np.ascontiguousarray(self.field(f)[:, cols]) for f in FIELDS)
        )

    def missing_bars(self) -> int:
        """Count (date, ticker) cells without a bar."""
        return int(np.isnan(self.close).sum())

    def to_long(self) -> pd.DataFrame:
        """Return the long table (one row per present bar), sorted by ticker then date."""
        present = ~np.isnan(self.close)
        t_idx, j_idx = np.nonzero(present.T)  # ticker-major order
        frame = pd.DataFrame(
            {
                "date": pd.Series(self.dates[j_idx]).dt.strftime("%Y-%m-%d"),
                "ticker": np.asarray(self.tickers, dtype=object)[t_idx],
            }
        )
        for name in FIELDS:
            frame[name] = self.field(name)[j_idx, t_idx]
        return frame

    @classmethod
    def from_long(cls, frame: pd.DataFrame) -> Panel:
        """Build a panel from a long table with the columns of LONG_COLUMNS."""
        dates = np.unique(pd.to_datetime(frame["date"]).to_numpy().astype("datetime64[D]"))
        tickers = tuple(sorted(frame["ticker"].astype(str).unique()))
        row = np.searchsorted(dates, pd.to_datetime(frame["date"]).to_numpy().astype("datetime64[D]"))
        col = pd.Index(tickers).get_indexer(frame["ticker"].astype(str))
        arrays = {}
        for name in FIELDS:
            values = np.full((len(dates), len(tickers)), np.nan)
            values[row, col] = frame[name].to_numpy(dtype=np.float64)
            arrays[name] = values
        return cls(dates, tickers, **arrays)
