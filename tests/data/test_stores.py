from __future__ import annotations

import sqlite3

import numpy as np
import pytest

from perfopt.data import Panel, generate_panel, open_store, write_panel
from perfopt.errors import UserError


def test_generator_is_deterministic_and_trades_on_weekdays():
    a = generate_panel(5, n_days=50, seed=3, gaps=True)
    b = generate_panel(5, n_days=50, seed=3, gaps=True)
    assert np.array_equal(a.close, b.close, equal_nan=True)
    weekday = (a.dates.astype("datetime64[D]").view("int64") - 4) % 7  # 1970-01-05 was a Monday
    assert weekday.max() <= 4
    assert not np.array_equal(a.close, generate_panel(5, n_days=50, seed=4).close)


def test_gaps_make_late_listings_delistings_and_suspensions():
    panel = generate_panel(200, n_days=400, seed=1, gaps=True)
    missing = np.isnan(panel.close)
    assert missing[0].any(), "some tickers list late"
    assert missing[-1].any(), "some tickers are delisted"
    inner = missing[1:-1] & ~missing[:-2] & ~missing[2:]
    assert inner.any(), "some tickers are suspended for a day"
    assert not missing.all(axis=1).any(), "every calendar day keeps a bar"
    # A missing bar is missing in every field.
    for name in ("open", "high", "low", "volume"):
        assert np.array_equal(np.isnan(panel.field(name)), missing)


@pytest.mark.parametrize("source", ["sqlite", "parquet", "hdf5"])
def test_every_store_holds_the_same_panel(gappy_data, source):
    reference = open_store(gappy_data, "hdf5").load_panel()
    store = open_store(gappy_data, source)
    panel = store.load_panel()
    assert panel.tickers == reference.tickers
    assert np.array_equal(panel.dates, reference.dates)
    for name in ("open", "high", "low", "close", "volume"):
        assert np.array_equal(panel.field(name), reference.field(name), equal_nan=True)


@pytest.mark.parametrize("source", ["sqlite", "hdf5"])
def test_naive_access_equals_bulk(gappy_data, source):
    store = open_store(gappy_data, source)
    bulk_all = store.load("close")
    gappy = np.flatnonzero(np.isnan(bulk_all).any(axis=0))[:3]
    tickers = [store.tickers()[j] for j in dict.fromkeys([*gappy, 0, 1])]
    calendar = store.dates()
    naive = store.load("close", tickers, calendar, access="naive")
    bulk = store.load("close", tickers, calendar, access="bulk")
    assert np.isnan(naive).any()
    assert np.array_equal(naive, bulk, equal_nan=True)


def test_parquet_refuses_naive_access(small_data):
    with pytest.raises(UserError, match="point queries"):
        open_store(small_data, "parquet").load("close", access="naive")


def test_sqlite_is_opened_read_only(small_data):
    store = open_store(small_data, "sqlite")
    with pytest.raises(sqlite3.OperationalError, match="readonly"):
        store._conn.execute("DELETE FROM prices")


def test_missing_folder_and_file_are_named(tmp_path):
    with pytest.raises(UserError, match="does not exist"):
        open_store(tmp_path / "nowhere", "sqlite")
    with pytest.raises(UserError, match=r"prices\.h5 not found"):
        open_store(tmp_path, "hdf5")


def test_sqlite_without_prices_table_or_with_other_columns(tmp_path):
    path = tmp_path / "prices.sqlite"
    sqlite3.connect(path).execute("CREATE TABLE quotes (x)").connection.commit()
    with pytest.raises(UserError, match="no table 'prices'"):
        open_store(tmp_path, "sqlite")
    path.unlink()
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE prices (ticker TEXT, date TEXT, px REAL)")
    conn.commit()
    conn.close()
    with pytest.raises(UserError, match="has columns date, px, ticker"):
        open_store(tmp_path, "sqlite")


def test_unknown_and_empty_tickers(small_data):
    store = open_store(small_data, "hdf5")
    with pytest.raises(UserError, match="unknown ticker.*NOPE"):
        store.check_tickers(["S0001", "NOPE"])
    with pytest.raises(UserError, match="empty"):
        store.check_tickers([])
    with pytest.raises(UserError, match="more than once.*S0001"):
        store.check_tickers(["S0001", "S0002", "S0001"])


def test_panel_long_round_trip():
    panel = generate_panel(4, n_days=20, seed=2, gaps=True)
    back = Panel.from_long(panel.to_long())
    assert back.tickers == panel.tickers
    assert np.array_equal(back.close, panel.close, equal_nan=True)


def test_writing_does_not_leave_temporary_files(tmp_path):
    write_panel(generate_panel(3, n_days=10), tmp_path)
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == ["manifest.json", "prices.h5", "prices.parquet", "prices.sqlite"]
