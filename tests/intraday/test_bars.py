"""Intraday generator, Parquet store and the `data generate --freq` command."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from perfopt.cli import main
from perfopt.errors import UserError
from perfopt.intraday import (
    BAR_COLUMNS,
    bars_path,
    generate_intraday,
    list_symbols,
    load_bars,
    write_bars,
)


def test_deterministic_and_seeded_per_symbol():
    a = generate_intraday(["BTCUSDT", "ETHUSDT"], 2, seed=3)
    b = generate_intraday(["BTCUSDT", "ETHUSDT"], 2, seed=3)
    for s in a:
        pd.testing.assert_frame_equal(a[s], b[s])
    # Adding a symbol, or reordering, leaves the others unchanged.
    c = generate_intraday(["SOLUSDT", "ETHUSDT"], 2, seed=3)
    pd.testing.assert_frame_equal(a["ETHUSDT"], c["ETHUSDT"])
    other_seed = generate_intraday(["ETHUSDT"], 2, seed=4)["ETHUSDT"]
    assert not np.allclose(other_seed["close"], a["ETHUSDT"]["close"])
    assert not np.allclose(a["BTCUSDT"]["close"] / 42_000, a["ETHUSDT"]["close"] / 2_300)


def test_bar_shape_and_ohlc_consistency():
    bars = generate_intraday(["BTCUSDT"], 2, start="2024-05-06")["BTCUSDT"]
    assert list(bars.columns) == list(BAR_COLUMNS) and len(bars) == 2 * 1440
    assert bars["timestamp"].dtype == "datetime64[ns, UTC]"
    assert bars["timestamp"].iloc[0] == pd.Timestamp("2024-05-06", tz="UTC")
    assert (bars["timestamp"].diff().dropna() == pd.Timedelta("1min")).all()
    assert (bars["high"] >= bars[["open", "close"]].max(axis=1)).all()
    assert (bars["low"] <= bars[["open", "close"]].min(axis=1)).all()
    assert (bars["low"] > 0).all() and (bars["volume"] > 0).all()
    # 24/7 market: each bar opens at the previous close.
    np.testing.assert_array_equal(bars["open"].to_numpy()[1:], bars["close"].to_numpy()[:-1])


def test_realistic_intraday_volatility():
    bars = generate_intraday(["BTCUSDT"], 28, start="2024-01-01")["BTCUSDT"]
    r = np.diff(np.log(bars["close"].to_numpy()))
    hour = bars["timestamp"].dt.hour.to_numpy()[1:]
    by_hour = np.array([np.abs(r[hour == h]).mean() for h in range(24)])
    # Seasonal: the US session (13-15 UTC) is busier than the quiet hours (19-21 UTC).
    assert by_hour[13:16].mean() > 1.4 * by_hour[19:22].mean()
    # Volatility clustering: |r| is autocorrelated; jumps and t shocks give fat tails.
    a = np.abs(r) - np.abs(r).mean()
    assert np.dot(a[1:], a[:-1]) / np.dot(a, a) > 0.05
    assert np.mean((r - r.mean()) ** 4) / r.var() ** 2 > 6
    # Annualized volatility near the symbol's 55%.
    assert 0.35 < r.std() * np.sqrt(365 * 1440) < 0.8


def test_write_and_load_round_trip(tmp_path):
    bars = generate_intraday(["BTCUSDT", "ETHUSDT"], 1)
    paths = write_bars(bars, tmp_path)
    assert (
        paths["ETHUSDT"]
        == tmp_path / "intraday" / "ETHUSDT_1min.parquet"
        == bars_path(tmp_path, "ETHUSDT")
    )
    assert list_symbols(tmp_path) == ["BTCUSDT", "ETHUSDT"]
    pd.testing.assert_frame_equal(load_bars(tmp_path, "ETHUSDT"), bars["ETHUSDT"])


def test_load_errors(tmp_path):
    with pytest.raises(
        UserError, match=r"intraday does not exist.*perfopt data generate --freq 1min"
    ):
        load_bars(tmp_path, "BTCUSDT")
    write_bars(generate_intraday(["BTCUSDT", "ETHUSDT"], 1), tmp_path)
    with pytest.raises(UserError, match=r"symbol 'XRPUSDT'.*symbols present: BTCUSDT, ETHUSDT"):
        load_bars(tmp_path, "XRPUSDT")
    with pytest.raises(UserError, match="unknown --freq"):
        load_bars(tmp_path, "BTCUSDT", freq="7min")


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"symbols": []}, "--symbols needs"),
        ({"symbols": ["BTC/USDT"]}, "unsafe in a file name"),
        ({"symbols": ["A", "A"]}, "listed twice"),
        ({"days": 0}, "--days must be at least 1"),
        ({"start": "2024-13-45"}, "invalid --start"),
    ],
)
def test_generate_bad_input(kwargs, message):
    args = {"symbols": ["BTCUSDT"], "days": 1, **kwargs}
    with pytest.raises(UserError, match=message):
        generate_intraday(**args)


def test_cli_generate_intraday_and_read_back(capsys, tmp_path):
    out = tmp_path / "d"
    argv = ["data", "generate", "--freq", "1min", "--symbols", "BTCUSDT,ETHUSDT", "--days", "2"]
    assert main([*argv, "--seed", "5", "--start", "2024-02-01", "--out", str(out)]) == 0
    line = capsys.readouterr().out
    assert "wrote 2 symbols x 2 days of 1min bars" in line and "ETHUSDT_1min.parquet" in line
    bars = load_bars(out, "BTCUSDT")
    assert len(bars) == 2 * 1440 and bars["timestamp"].iloc[0] == pd.Timestamp(
        "2024-02-01", tz="UTC"
    )
    expected = generate_intraday(["BTCUSDT"], 2, start="2024-02-01", seed=5)["BTCUSDT"]
    pd.testing.assert_frame_equal(bars, expected)
    assert not (out / "prices.sqlite").exists()  # the daily panel is not written


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--freq", "1min"], "needs --symbols"),
        (
            ["--freq", "1min", "--symbols", "A", "--tickers", "5"],
            "--tickers applies to the daily panel",
        ),
        (["--freq", "1min", "--symbols", "A", "--gaps"], "--gaps applies to the daily panel"),
        (["--freq", "7min", "--symbols", "A"], "unknown --freq '7min'"),
        (["--symbols", "A"], "--symbols is for intraday bars"),
    ],
)
def test_cli_bad_combinations(capsys, tmp_path, extra, message):
    assert main(["data", "generate", *extra, "--out", str(tmp_path)]) == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "intraday").exists()
