"""Stored panels (SQLite, Parquet, HDF5): writing all three, reading one.

A data folder holds `prices.sqlite`, `prices.parquet` and `prices.h5` with the same
panel (written by perfopt.data.writers), and `manifest.json` (perfopt.data.manifest),
which tells an interrupted write from a complete one. Readers never write. Two access
patterns:

- bulk: one read of a whole field into a dense (dates x tickers) array;
- naive: one point query per ticker per date, as the legacy engine did. It is kept on
  purpose, as the measured baseline; Parquet has no point queries, so it refuses it.
"""

from __future__ import annotations

import itertools
import sqlite3
from abc import ABC, abstractmethod
from collections.abc import Sequence
from pathlib import Path
from typing import ClassVar

import numpy as np

import perfopt.data.manifest as manifest
from perfopt.data.panel import FIELDS, LONG_COLUMNS, Panel
from perfopt.defaults import DATA_SOURCES
from perfopt.errors import UserError

SOURCES = DATA_SOURCES
ACCESS_MODES = ("bulk", "naive")
FILE_NAMES = {"sqlite": "prices.sqlite", "parquet": "prices.parquet", "hdf5": "prices.h5"}
def resolve_data_dir(data_dir: str | Path) -> Path:
    """Return the data folder as an absolute path, or raise UserError if it is missing.

    Resolving in the parent matters: a relative path would change meaning in a spawned
    worker started from another working directory (the seed's phase-4 bug).
    """
    path = Path(data_dir).expanduser().resolve()
    if not path.is_dir():
        raise UserError(
            f"data folder {path} does not exist; create it with "
            f"`perfopt data generate --out {data_dir}` or `perfopt data import-csv FILE --out {data_dir}`"
        )
    return path


class PriceStore(ABC):
    """Read-only access to one stored panel.

    Not thread-safe: an instance owns one open handle. Create one per process (workers
    open their own from the absolute path the parent resolved). Nothing is ever written.
    """

    source: ClassVar[str]
    supports_naive: ClassVar[bool] = True

    def __init__(self, path: Path) -> None:
        self.path = path
        if not path.is_file():
            raise UserError(
                f"{path} not found; write it with `perfopt data generate --out {path.parent}`"
            )

    @abstractmethod
    def tickers(self) -> tuple[str, ...]:
        """Return every ticker in the store, sorted."""

    @abstractmethod
    def dates(self) -> np.ndarray:
        """Return the calendar: every date with at least one bar, as datetime64[D]."""

    @abstractmethod
    def load_field(self, field: str, tickers: Sequence[str], calendar: np.ndarray) -> np.ndarray:
        """Read one field for `tickers` on `calendar` into a dense array (bulk access)."""

    @abstractmethod
    def point(self, field: str, ticker: str, date: str) -> float:
        """Read one value (naive access); NaN when the bar is missing."""

    def load_field_naive(
        self, field: str, tickers: Sequence[str], calendar: np.ndarray
    ) -> np.ndarray:
        """Read one field with one point query per ticker per date (the legacy pattern)."""
        if not self.supports_naive:
            raise UserError(
                f"--access naive needs point queries, which {self.source} files lack; "
                "use --source sqlite or --source hdf5, or --access bulk"
            )
        day_strings = np.datetime_as_string(calendar, unit="D").tolist()
        out = np.empty((len(calendar), len(tickers)))
        for i, day in enumerate(day_strings):
            for j, ticker in enumerate(tickers):
                out[i, j] = self.point(field, ticker, day)
        return out

    def load(
        self,
        field: str = "close",
        tickers: Sequence[str] | None = None,
        calendar: np.ndarray | None = None,
        access: str = "bulk",
    ) -> np.ndarray:
        """Read one field with the named access pattern; defaults to every ticker and date."""
        tickers = self.tickers() if tickers is None else tickers
        calendar = self.dates() if calendar is None else calendar
        if access == "bulk":
            return self.load_field(field, tickers, calendar)
        if access == "naive":
            return self.load_field_naive(field, tickers, calendar)
        raise UserError(f"unknown access mode {access!r}; choose one of {', '.join(ACCESS_MODES)}")

    def load_panel(self, tickers: Sequence[str] | None = None) -> Panel:
        """Read every field into a Panel (bulk access)."""
        tickers = self.tickers() if tickers is None else tuple(tickers)
        calendar = self.dates()
        return Panel(calendar, tuple(tickers), *(self.load_field(f, tickers, calendar) for f in FIELDS))

    def close_handle(self) -> None:  # noqa: B027
        """Release the open file or connection."""

    def check_tickers(self, wanted: Sequence[str]) -> tuple[str, ...]:
        """Return `wanted` as a tuple, or raise UserError naming unknown tickers."""
        known = set(self.tickers())
        unknown = [t for t in wanted if t not in known]
        if unknown:
            shown = ", ".join(unknown[:5]) + (" ..." if len(unknown) > 5 else "")
            raise UserError(
                f"unknown ticker(s) {shown} in {self.path}; `perfopt data info {self.path.parent}` lists them"
            )
        if not wanted:
            raise UserError("the ticker universe is empty; name at least one ticker")
        repeated = sorted({t for t in wanted if list(wanted).count(t) > 1})
        if repeated:
            raise UserError(f"ticker(s) named more than once: {', '.join(repeated)}")
        return tuple(wanted)


def _day_index(calendar: np.ndarray, days: np.ndarray) -> np.ndarray:
    """Map datetime64[D] days onto calendar positions; -1 for days not in it.

    A lookup table over the calendar's span, not a search: one pass over 378,000 rows.
    """
    if len(calendar) == 0:
        return np.full(len(days), -1)
    first = calendar[0].astype("int64")
    table = np.full(int(calendar[-1].astype("int64") - first) + 1, -1)
    table[calendar.astype("int64") - first] = np.arange(len(calendar))
    offset = days.astype("int64") - first
    if len(offset) and offset.min() >= 0 and offset.max() < len(table):
        return table[offset]
    inside = (offset >= 0) & (offset < len(table))
    return np.where(inside, table[np.clip(offset, 0, len(table) - 1)], -1)


def _distinct_days(days: np.ndarray) -> np.ndarray:
    """Return the sorted distinct days (a bitmap over their span, cheaper than a sort)."""
    if len(days) == 0:
        return days.astype("datetime64[D]")
    as_int = days.astype("int64")
    first = as_int.min()
    seen = np.zeros(int(as_int.max() - first) + 1, dtype=bool)
    seen[as_int - first] = True
    return (np.flatnonzero(seen) + first).astype("datetime64[D]")


class SqliteStore(PriceStore):
    """prices.sqlite opened read-only (`mode=ro` URI)."""

    source = "sqlite"

    def __init__(self, path: Path) -> None:
        super().__init__(path)
        self._conn = sqlite3.connect(f"{path.as_uri()}?mode=ro", uri=True, check_same_thread=False)
        self._validate()
        self._tickers: tuple[str, ...] | None = None
        self._dates: np.ndarray | None = None

    def _validate(self) -> None:
        try:
            rows = self._conn.execute("PRAGMA table_info(prices)").fetchall()
        except sqlite3.DatabaseError as exc:
            raise UserError(f"{self.path} is not a readable SQLite database: {exc}") from None
        if not rows:
            raise UserError(
                f"{self.path} has no table 'prices'; expected prices({', '.join(LONG_COLUMNS)})"
            )
        columns = {row[1] for row in rows}
        if columns != set(LONG_COLUMNS):
            raise UserError(
                f"table prices in {self.path} has columns {', '.join(sorted(columns))}; "
                f"expected {', '.join(LONG_COLUMNS)}"
            )

    def tickers(self) -> tuple[str, ...]:
        if self._tickers is None:
            rows = self._conn.execute("SELECT DISTINCT ticker FROM prices ORDER BY ticker")
            self._tickers = tuple(r[0] for r in rows)
        return self._tickers

    def dates(self) -> np.ndarray:
        if self._dates is None:
            rows = self._conn.execute("SELECT DISTINCT date FROM prices ORDER BY date").fetchall()
            self._dates = np.array([r[0] for r in rows], dtype="datetime64[D]")
        return self._dates

    def load_field(self, field: str, tickers: Sequence[str], calendar: np.ndarray) -> np.ndarray:
        _check_field(field)
        out = np.full((len(calendar), len(tickers)), np.nan)
        if len(calendar) == 0 or len(tickers) == 0:
            return out
        first, last = np.datetime_as_string(calendar[[0, -1]], unit="D").tolist()
        # Ask SQLite for day numbers instead of date text: an int per row is far cheaper
        # to convert in the Python driver (the bottleneck: ~1-2 us per row here).
        # Unary + keeps SQLite on the (ticker, date) key, which already has the order
        # we want, instead of the date index plus a sort.
        where = "+date BETWEEN ? AND ?"
        args: list[object] = [first, last]
        all_tickers = self.tickers()
        if tuple(tickers) != all_tickers:
            where += f" AND ticker IN ({','.join('?' * len(tickers))})"
            args.extend(tickers)
        counts = self._conn.execute(
            f"SELECT ticker, COUNT(*) FROM prices WHERE {where} GROUP BY ticker ORDER BY ticker",
            args,
        ).fetchall()
        rows = self._conn.execute(
            f"SELECT CAST(julianday(date) - 2440587.5 AS INTEGER), {field} FROM prices "
            f"WHERE {where} ORDER BY ticker, date",
            args,
        ).fetchall()
        if not rows:
            return out
        values = np.fromiter(itertools.chain.from_iterable(rows), np.float64, 2 * len(rows))
        values = values.reshape(-1, 2)
        col_of = {t: j for j, t in enumerate(tickers)}
        cols = np.repeat([col_of[t] for t, _ in counts], [n for _, n in counts])
        days = values[:, 0].astype("int64").astype("datetime64[D]")
        pos = _day_index(calendar, days)
        keep = pos >= 0
        out[pos[keep], cols[keep]] = values[keep, 1]
        return out

    def point(self, field: str, ticker: str, date: str) -> float:
        row = self._conn.execute(
            f"SELECT {field} FROM prices WHERE ticker = ? AND date = ?", (ticker, date)
        ).fetchone()
        return np.nan if row is None or row[0] is None else float(row[0])

    def close_handle(self) -> None:
        self._conn.close()


class ParquetStore(PriceStore):
    """prices.parquet, the long table, read with pyarrow."""

    source = "parquet"
    supports_naive = False

    def __init__(self, path: Path) -> None:
        super().__init__(path)
        import pyarrow.parquet as pq

        try:
            self._file = pq.ParquetFile(path, read_dictionary=["ticker"])
        except Exception as exc:  # pyarrow raises several types for a bad file
            raise UserError(f"{path} is not a readable Parquet file: {exc}") from None
        names = set(self._file.schema_arrow.names)
        if not set(LONG_COLUMNS) <= names:
            raise UserError(
                f"{path} has columns {', '.join(sorted(names))}; expected {', '.join(LONG_COLUMNS)}"
            )
        self._index: tuple[tuple[str, ...], np.ndarray, np.ndarray, np.ndarray] | None = None

    def _keys(self) -> tuple[tuple[str, ...], np.ndarray, np.ndarray, np.ndarray]:
        """Return (tickers, calendar, ticker code per row, day per row), read once."""
        if self._index is None:
            table = self._file.read(columns=["date", "ticker"])
            tick = table.column("ticker").combine_chunks()
            if not hasattr(tick, "dictionary"):  # a file written by another tool
                tick = tick.dictionary_encode()
            tickers = tick.dictionary.to_pylist()
            order = np.argsort(tickers)
            rank = np.empty_like(order)
            rank[order] = np.arange(len(order))
            codes = rank[tick.indices.to_numpy()]
            days = np.asarray(table.column("date").to_numpy(zero_copy_only=False)).astype("datetime64[D]")
            self._index = (tuple(sorted(tickers)), _distinct_days(days), codes, days)
        return self._index

    def tickers(self) -> tuple[str, ...]:
        return self._keys()[0]

    def dates(self) -> np.ndarray:
        return self._keys()[1]

    def load_field(self, field: str, tickers: Sequence[str], calendar: np.ndarray) -> np.ndarray:
        _check_field(field)
        all_tickers, _, codes, days = self._keys()
        values = self._file.read(columns=[field]).column(field).to_numpy()
        col_of_code = np.full(len(all_tickers), -1)
        index = {t: i for i, t in enumerate(all_tickers)}
        for j, t in enumerate(tickers):
            col_of_code[index[t]] = j
        cols = col_of_code[codes]
        flat = _day_index(calendar, days) * len(tickers) + cols
        out = np.full((len(calendar), len(tickers)), np.nan)
        if len(tickers) == len(all_tickers) and np.array_equal(calendar, self.dates()):
            out.ravel()[flat] = values  # every row lands: skip the mask (the common case)
        else:
            keep = (cols >= 0) & (flat >= 0)
            out.ravel()[flat[keep]] = values[keep]
        return out

    def point(self, field: str, ticker: str, date: str) -> float:
        raise UserError("Parquet files have no point queries; use --access bulk")


class Hdf5Store(PriceStore):
    """prices.h5: one (dates x tickers) dataset per field plus `dates` and `tickers`."""

    source = "hdf5"

    def __init__(self, path: Path) -> None:
        super().__init__(path)
        import h5py

        try:
            self._file = h5py.File(path, "r")
        except OSError as exc:
            raise UserError(f"{path} is not a readable HDF5 file: {exc}") from None
        missing = [n for n in ("dates", "tickers", *FIELDS) if n not in self._file]
        if missing:
            raise UserError(f"{path} lacks dataset(s) {', '.join(missing)}; regenerate it")
        self._tickers = tuple(t.decode() if isinstance(t, bytes) else t for t in self._file["tickers"][:])
        self._dates = self._file["dates"][:].astype("U10").astype("datetime64[D]")
        self._col = {t: j for j, t in enumerate(self._tickers)}
        self._day_pos = {str(d): i for i, d in enumerate(np.datetime_as_string(self._dates, unit="D"))}

    def tickers(self) -> tuple[str, ...]:
        return self._tickers

    def dates(self) -> np.ndarray:
        return self._dates

    def load_field(self, field: str, tickers: Sequence[str], calendar: np.ndarray) -> np.ndarray:
        _check_field(field)
        data = self._file[field][:]
        rows = _day_index(self._dates, calendar)
        cols = [self._col[t] for t in tickers]
        if tuple(tickers) == self._tickers and np.array_equal(rows, np.arange(len(self._dates))):
            return data
        out = np.full((len(calendar), len(tickers)), np.nan)
        keep = rows >= 0
        out[keep] = data[np.ix_(rows[keep], cols)]
        return out

    def point(self, field: str, ticker: str, date: str) -> float:
        i = self._day_pos.get(date)
        return np.nan if i is None else float(self._file[field][i, self._col[ticker]])

    def close_handle(self) -> None:
        self._file.close()


_STORES: dict[str, type[PriceStore]] = {
    "sqlite": SqliteStore,
    "parquet": ParquetStore,
    "hdf5": Hdf5Store,
}


def _check_field(field: str) -> None:
    if field not in FIELDS:
        raise UserError(f"unknown field {field!r}; choose one of {', '.join(FIELDS)}")


def open_store(data_dir: str | Path, source: str) -> PriceStore:
    """Open the stored panel of `source` in data_dir (read-only)."""
    if source not in _STORES:
        raise UserError(f"unknown source {source!r}; choose one of {', '.join(SOURCES)}")
    folder = resolve_data_dir(data_dir)
    path = folder / FILE_NAMES[source]
    if path.is_file():
        manifest.check_store(folder, source, path)
    return _STORES[source](path)


def describe(data_dir: str | Path, source: str | None = None) -> dict[str, object]:
    """Summarize a data folder: files, tickers, date range, missing bars."""
    folder = resolve_data_dir(data_dir)
    present = [s for s in SOURCES if (folder / FILE_NAMES[s]).is_file()]
    if not present:
        raise UserError(
            f"{folder} holds none of {', '.join(FILE_NAMES.values())}; "
            f"create them with `perfopt data generate --out {data_dir}`"
        )
    chosen = source or ("hdf5" if "hdf5" in present else present[0])
    checked = manifest.verify(folder)
    if checked["mismatched"]:
        raise UserError(
            f"{folder}: {', '.join(checked['mismatched'])} changed or went missing after the "
            "folder was written (SHA-256 differs from manifest.json), so the stores may "
            "disagree; write the folder again"
        )
    store = open_store(folder, chosen)
    try:
        close = store.load("close")
        tickers = store.tickers()
        dates = store.dates()
    finally:
        store.close_handle()
    missing_per_ticker = np.isnan(close).sum(axis=0)
    return {
        "folder": str(folder),
        "files": {s: (folder / FILE_NAMES[s]).stat().st_size for s in present},
        "read_from": chosen,
        "n_tickers": len(tickers),
        "tickers_head": list(tickers[:5]),
        "n_dates": len(dates),
        "first_date": str(dates[0]) if len(dates) else None,
        "last_date": str(dates[-1]) if len(dates) else None,
        "missing_bars": int(missing_per_ticker.sum()),
        "tickers_with_gaps": int((missing_per_ticker > 0).sum()),
        "manifest": checked["state"],
    }
