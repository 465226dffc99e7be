from __future__ import annotations

import numpy as np
import pytest

from perfopt.data import generate_panel, open_store, write_panel
from perfopt.data.csv_import import read_long_csv
from perfopt.errors import UserError

HEADER = "date,ticker,open,high,low,close,volume\n"


def test_round_trip_through_csv(tmp_path):
    panel = generate_panel(6, n_days=30, seed=9, gaps=True)
    csv = tmp_path / "bars.csv"
    # Shuffled columns and rows: any order must import the same.
    long = panel.to_long()[["ticker", "close", "date", "volume", "open", "high", "low"]]
    long.sample(frac=1.0, random_state=0).to_csv(csv, index=False, float_format="%.17g")
    imported = read_long_csv(csv)
    assert imported.tickers == panel.tickers
    assert np.array_equal(imported.dates, panel.dates)
    assert np.array_equal(imported.close, panel.close, equal_nan=True)
    write_panel(imported, tmp_path / "out")
    stored = open_store(tmp_path / "out", "sqlite").load_panel()
    assert np.array_equal(stored.volume, panel.volume, equal_nan=True)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("date,ticker,open,high,low,close\n2024-01-02,A,1,1,1,1\n", "lacks column.*volume"),
        (HEADER + "2024-01-02,A,1,1,1,1,10\n2024-13-40,A,1,1,1,1,10\n", "line 3: unparseable date"),
        (HEADER + "2024-01-02,A,1,1,1,abc,10\n", "line 2: unparseable close"),
        (HEADER + "2024-01-02,A,1,1,1,-5,10\n", "line 2: non-positive price"),
        (HEADER + "2024-01-02,A,1,1,1,1,10\n2024-01-02,A,1,1,1,1,10\n", "line 3: second bar"),
        (HEADER, "no rows"),
        (HEADER + "2024-01-02,A,1,1,1,1,10\n2024-01-03,A,1,1,1,inf,10\n", "line 3: close inf is not a finite"),
        (HEADER + "2024-01-02,A,1,1,1,1,-10\n", "line 2: negative volume -10"),
        (HEADER + "2024-01-02,A,1,0.5,2,1,10\n", "line 2: high 0.5 below low 2"),
        (HEADER + "2024-01-02,A,1,1,1,1,10\n2024-01-02,,1,1,1,1,10\n", "line 3: empty ticker"),
        (HEADER + "2024-01-02, ,1,1,1,1,10\n", "line 2: empty ticker"),
    ],
)
def test_bad_csv_is_refused_with_the_line(tmp_path, body, message):
    csv = tmp_path / "bad.csv"
    csv.write_text(body)
    with pytest.raises(UserError, match=message):
        read_long_csv(csv)


def test_missing_csv(tmp_path):
    with pytest.raises(UserError, match="not found"):
        read_long_csv(tmp_path / "none.csv")
