"""Writing a panel as the three stores of a data folder (SQLite, Parquet, HDF5).

Each store is written under a temporary name and renamed into place; the folder's
manifest says "writing" until all three are there (perfopt.data.manifest).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path

import numpy as np

import perfopt.data.manifest as manifest
from perfopt.data.panel import FIELDS, LONG_COLUMNS, Panel
from perfopt.data.stores import FILE_NAMES
from perfopt.errors import UserError

_SQLITE_SCHEMA = (
    "CREATE TABLE prices (ticker TEXT NOT NULL, date TEXT NOT NULL, open REAL, high REAL, "
    "low REAL, close REAL, volume REAL, PRIMARY KEY (ticker, date))"
)


def write_panel(
    panel: Panel,
    out_dir: str | Path,
    what: str = "generate",
    progress: Callable[[str], None] | None = None,
) -> dict[str, Path]:
    """Write the panel as prices.sqlite, prices.parquet and prices.h5 under out_dir.

    progress(text), when given, is called before each file is written.

    The manifest says "writing" until all three are in place (see perfopt.data.manifest);
    `what` names the command for the message an interrupted write leaves. Temporary
    files of a failed or interrupted write are removed.
    """
    out = Path(out_dir).expanduser().resolve()
    if out.exists() and not out.is_dir():
        raise UserError(f"{out} is a file; --out needs a folder")
    out.mkdir(parents=True, exist_ok=True)
    long = panel.to_long()
    paths = {source: out / name for source, name in FILE_NAMES.items()}
    generation = manifest.begin(out, what)
    say = progress or (lambda _text: None)
    try:
        say(f"writing {paths['sqlite'].name} ({len(long):,} rows, the slowest store)")
        _write_sqlite(long, paths["sqlite"])
        say(f"writing {paths['parquet'].name}")
        _write_parquet(long, paths["parquet"])
        say(f"writing {paths['hdf5'].name}")
        _write_hdf5(panel, paths["hdf5"])
    except BaseException:
        for path in paths.values():
            for tmp in out.glob(path.name + ".tmp"):
                tmp.unlink(missing_ok=True)
        raise
    dates = panel.date_strings()
    info = {
        "tickers": panel.n_tickers,
        "dates": panel.n_dates,
        "first": dates[0] if dates else None,
        "last": dates[-1] if dates else None,
    }
    manifest.finish(out, generation, what, paths, info)
    return paths


def _write_sqlite(long, path: Path) -> None:
    tmp = path.with_suffix(".sqlite.tmp")
    tmp.unlink(missing_ok=True)
    with sqlite3.connect(tmp) as conn:
        # A fresh file nobody reads yet: no journal needed while it is built.
        conn.execute("PRAGMA journal_mode = OFF")
        conn.execute("PRAGMA synchronous = OFF")
        conn.execute(_SQLITE_SCHEMA)
        # Lets the calendar query (DISTINCT date) read an index instead of the table.
        conn.execute("CREATE INDEX prices_date ON prices (date)")
        conn.executemany(
            f"INSERT INTO prices ({', '.join(LONG_COLUMNS)}) VALUES (?, ?, ?, ?, ?, ?, ?)",
            long[list(LONG_COLUMNS)].itertuples(index=False, name=None),
        )
    conn.close()
    tmp.replace(path)  # never leave a half-written file under the real name


def _write_parquet(long, path: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    tmp = path.with_suffix(".parquet.tmp")
    table = pa.Table.from_pandas(long, preserve_index=False)
    # date32 and a dictionary-encoded ticker read back as numbers, without parsing
    # or hashing 378,000 strings on every load.
    table = table.set_column(0, "date", pa.array(long["date"].to_numpy(dtype="datetime64[D]")))
    table = table.set_column(1, "ticker", table.column("ticker").dictionary_encode())
    pq.write_table(table, tmp)
    tmp.replace(path)


def _write_hdf5(panel: Panel, path: Path) -> None:
    import h5py

    tmp = path.with_suffix(".h5.tmp")
    with h5py.File(tmp, "w") as f:
        # Contiguous layout: chunked files made point reads 115x slower here (notes).
        f.create_dataset("dates", data=np.array(panel.date_strings(), dtype="S10"))
        f.create_dataset("tickers", data=np.array(panel.tickers, dtype=h5py.string_dtype()))
        for name in FIELDS:
            f.create_dataset(name, data=panel.field(name))
    tmp.replace(path)
