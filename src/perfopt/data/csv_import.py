"""Import a long CSV of real daily bars (date,ticker,open,high,low,close,volume)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from perfopt.data.panel import FIELDS, LONG_COLUMNS, Panel
from perfopt.errors import UserError


def read_long_csv(path: str | Path) -> Panel:
    """Read and validate a long CSV into a Panel; UserError names the bad row or column."""
    path = Path(path).expanduser()
    if not path.is_file():
        raise UserError(f"CSV file {path} not found")
    try:
        frame = pd.read_csv(path, dtype={"ticker": str, "date": str})
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise UserError(f"{path} is not a readable CSV: {exc}") from None
    frame.columns = [str(c).strip().lower() for c in frame.columns]
    missing = [c for c in LONG_COLUMNS if c not in frame.columns]
    if missing:
        raise UserError(
            f"{path} lacks column(s) {', '.join(missing)}; the header must name "
            f"{','.join(LONG_COLUMNS)} (any order)"
        )
    if frame.empty:
        raise UserError(f"{path} has a header but no rows")
    tickers = frame["ticker"].fillna("").astype(str).str.strip()
    blank = (tickers == "").to_numpy()
    if blank.any():
        row = int(np.flatnonzero(blank)[0])
        raise UserError(f"{path} line {row + 2}: empty ticker; every row needs a ticker symbol")
    frame["ticker"] = tickers
    dates = pd.to_datetime(frame["date"], format="%Y-%m-%d", errors="coerce")
    bad = dates.isna()
    if bad.any():
        row = int(np.flatnonzero(bad.to_numpy())[0])
        raise UserError(
            f"{path} line {row + 2}: unparseable date {frame['date'].iloc[row]!r}; use YYYY-MM-DD"
        )
    frame["date"] = dates.dt.strftime("%Y-%m-%d")
    for name in FIELDS:
        values = pd.to_numeric(frame[name], errors="coerce")
        bad = values.isna()
        if bad.any():
            row = int(np.flatnonzero(bad.to_numpy())[0])
            raise UserError(
                f"{path} line {row + 2}: unparseable {name} {frame[name].iloc[row]!r}; expected a number"
            )
        finite = np.isfinite(values.to_numpy(dtype=np.float64))
        if not finite.all():
            row = int(np.flatnonzero(~finite)[0])
            raise UserError(
                f"{path} line {row + 2}: {name} {frame[name].iloc[row]} is not a finite "
                "number; fix or drop the row"
            )
        frame[name] = values.astype(np.float64)
    prices = frame[["open", "high", "low", "close"]].to_numpy()
    if (prices <= 0).any():
        row = int(np.flatnonzero((prices <= 0).any(axis=1))[0])
        raise UserError(f"{path} line {row + 2}: non-positive price; prices must be > 0")
    _first_bad(path, frame, frame["volume"] < 0, "negative volume {volume}; volumes are >= 0")
    _first_bad(
        path, frame, frame["high"] < frame["low"], "high {high} below low {low}; swap or fix them"
    )
    duplicated = frame.duplicated(["ticker", "date"])
    if duplicated.any():
        row = int(np.flatnonzero(duplicated.to_numpy())[0])
        raise UserError(
            f"{path} line {row + 2}: second bar for {frame['ticker'].iloc[row]} on {frame['date'].iloc[row]}"
        )
    return Panel.from_long(frame)


def _first_bad(path: Path, frame: pd.DataFrame, bad: pd.Series, text: str) -> None:
    """UserError naming the first row where `bad` holds, with its values in `text`."""
    flags = bad.to_numpy()
    if flags.any():
        row = int(np.flatnonzero(flags)[0])
        values = {k: f"{frame[k].iloc[row]:g}" for k in ("volume", "high", "low")}
        raise UserError(f"{path} line {row + 2}: {text.format(**values)}")
