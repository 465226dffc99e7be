"""Resampling against hand-made bars: OHLCV rules, epoch alignment, partial and gappy bins."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from perfopt.errors import UserError
from perfopt.intraday import generate_intraday, parse_timeframe, resample


def minute_bars(start: str, n: int, drop: tuple[int, ...] = ()) -> pd.DataFrame:
    """n one-minute bars whose values encode their position: open=i, high=i+0.5 ..."""
    i = np.arange(n, dtype=float)
    frame = pd.DataFrame(
        {
            "timestamp": pd.date_range(start, periods=n, freq="1min", tz="UTC", unit="ns"),
            "open": 100 + i,
            "high": 100 + i + 0.5 + (i % 3),  # the max is not always the last bar
            "low": 100 + i - 0.5 - (i % 4),
            "close": 100 + i + 0.25,
            "volume": 1 + i,
        }
    )
    return frame.drop(index=list(drop)).reset_index(drop=True)


def test_ohlcv_rules_and_partial_last_bar_dropped():
    bars = minute_bars("2024-01-01 00:00", 12)
    out = resample(bars, "5m")
    assert list(out["timestamp"]) == [
        pd.Timestamp("2024-01-01 00:00", tz="UTC"),
        pd.Timestamp("2024-01-01 00:05", tz="UTC"),
    ]  # 00:10-00:11 is a partial bar: dropped
    first = bars.iloc[0:5]
    row = out.iloc[0]
    assert row["open"] == first["open"].iloc[0]
    assert row["high"] == first["high"].max() == 100 + 4 + 0.5 + 1
    assert row["low"] == first["low"].min() == 100 + 3 - 0.5 - 3
    assert row["close"] == first["close"].iloc[-1]
    assert row["volume"] == first["volume"].sum() == 1 + 2 + 3 + 4 + 5
    second = bars.iloc[5:10]
    assert out.iloc[1]["volume"] == second["volume"].sum()
    assert out.iloc[1]["high"] == second["high"].max()
    assert out["timestamp"].dtype == "datetime64[ns, UTC]"


def test_bins_align_to_utc_epoch_multiples():
    # Starts at 00:02: the 00:00 bin lacks 00:00-00:01, so the first bar is 00:05.
    out = resample(minute_bars("2024-01-01 00:02", 13), "5m")
    assert [t.strftime("%H:%M") for t in out["timestamp"]] == ["00:05", "00:10"]
    # 4h bars start at 00, 04, 08 ... UTC whatever the first bar's time.
    out = resample(minute_bars("2024-01-01 01:00", 11 * 60), "4h")
    assert [t.strftime("%H:%M") for t in out["timestamp"]] == ["04:00", "08:00"]
    assert out.iloc[0]["open"] == 100 + 180  # the bar of 04:00 is the 181st minute


def test_gap_makes_its_bin_incomplete():
    bars = minute_bars("2024-01-01 00:00", 15, drop=(7,))
    out = resample(bars, "5m")
    assert [t.strftime("%H:%M") for t in out["timestamp"]] == ["00:00", "00:10"]
    assert out.iloc[1]["open"] == 110  # the 00:10 bar is whole and uses its own minutes


def test_daily_bars_and_non_minute_base():
    bars = generate_intraday(["BTCUSDT"], 3, start="2024-03-01")["BTCUSDT"]
    daily = resample(bars, "1d")
    assert len(daily) == 3 and list(daily["timestamp"].dt.hour) == [0, 0, 0]
    np.testing.assert_allclose(
        daily["volume"], bars["volume"].to_numpy().reshape(3, 1440).sum(axis=1)
    )
    five = resample(bars, "5m")
    # Volume sums differ only in summation order.
    pd.testing.assert_frame_equal(
        resample(five, "15m", base="5m"), resample(bars, "15m"), rtol=1e-12
    )
    assert resample(bars, "1m").equals(bars)


def test_matches_pandas_resample():
    bars = generate_intraday(["ETHUSDT"], 1, start="2024-02-10")["ETHUSDT"].iloc[7:-20]
    ours = resample(bars, "30m")
    ref = (
        bars.set_index("timestamp")
        .resample("30min", label="left", closed="left")
        .agg({"open": "first", "high": "max", "low": "min", "close": "last", "volume": "sum"})
    )
    counts = bars.set_index("timestamp")["open"].resample("30min").size()
    ref = ref[counts == 30].reset_index()
    pd.testing.assert_frame_equal(ours, ref, check_dtype=False)


@pytest.mark.parametrize(
    ("bars", "tf", "base", "message"),
    [
        (minute_bars("2024-01-01", 10), "2h30m", "1m", "unknown timeframe '2h30m'"),
        (minute_bars("2024-01-01", 10), "5m", "3m", "not a multiple of 3m"),
        (minute_bars("2024-01-01", 10).iloc[::-1], "5m", "1m", "strictly increasing"),
        (minute_bars("2024-01-01 00:01", 10), "15m", "5m", "not aligned"),
        (minute_bars("2024-01-01", 10).drop(columns="volume"), "5m", "1m", "volume"),
    ],
)
def test_bad_input(bars, tf, base, message):
    with pytest.raises(UserError, match=message):
        resample(bars, tf, base=base)


def test_timeframe_parsing_and_order():
    assert parse_timeframe("60").slug == "1h" and parse_timeframe("60").text == "60"
    assert parse_timeframe("1H") == parse_timeframe("60min") == parse_timeframe("1h")
    assert parse_timeframe("D").minutes == 1440
    assert (
        parse_timeframe("1m")
        < parse_timeframe("3m")
        < parse_timeframe("4h")
        < parse_timeframe("1d")
    )
    with pytest.raises(
        UserError, match=r"unknown timeframe '2m': use one of 1m, 3m, 5m, 15m, 30m, 1h, 4h, 1d"
    ):
        parse_timeframe("2m")
