"""LTF/HTF strategy: hand-computed trades, no look-ahead, costs, switches, objectives."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from perfopt.backtest.reference import rsi_reference
from perfopt.errors import UserError
from perfopt.intraday import (
    MULTI_OBJECTIVE_DIRECTIONS,
    _simulate,
    backtest_ltf_htf,
    backtest_pair,
    check_params,
    generate_intraday,
    objective_values,
    parse_feature_switches,
    prepare_pair,
    resample,
    search_space,
)
from perfopt.intraday.strategy import htf_trend_on_ltf, ltf_signals, rsi

OFF = {"useHTF": False, "useStop": False, "useTakeProfit": False}
# fast SMA(2) crosses above SMA(3) at bar 4 and below at bar 8 (see the comments below).
CLOSES = [10, 10, 10, 10, 11, 12, 13, 12, 11, 10, 10]
OPENS = [10, 10, 10, 10, 10, 11.2, 12, 13, 12, 11.5, 10]


def hand_bars(opens, closes, minutes=1):
    n = len(closes)
    ts = pd.date_range("2024-01-01", periods=n, freq=f"{minutes}min", tz="UTC", unit="ns")
    o, c = np.asarray(opens, float), np.asarray(closes, float)
    return pd.DataFrame(
        {
            "timestamp": ts,
            "open": o,
            "high": np.maximum(o, c),
            "low": np.minimum(o, c),
            "close": c,
            "volume": 1.0,
        }
    )


@pytest.fixture(scope="module")
def hand_pair():
    ltf = hand_bars(OPENS, CLOSES)
    htf = hand_bars([10, 10], [10, 10], minutes=5)
    return ltf, htf


@pytest.fixture(scope="module")
def market():
    base = generate_intraday(["BTCUSDT"], 4, start="2024-01-01", seed=11)["BTCUSDT"]
    return base, resample(base, "5m"), resample(base, "1h")


def test_hand_computed_trade_without_costs(hand_pair):
    ltf, htf = hand_pair
    params = {"signal": "ma_cross", "ma_fast": 2, "ma_slow": 3}
    # SMA2 at bars 3..8: 10, 10.5, 11.5, 12.5, 12.5, 11.5; SMA3: 10, 10.33, 11, 12, 12.33, 12.
    # Cross up read at bar 4's close -> buy at bar 5's open 11.2; cross down at bar 8 ->
    # sell at bar 9's open 11.5.
    m = backtest_ltf_htf(ltf, htf, params, OFF, fee=0.0, slippage_bps=0.0)
    equity = np.array(
        [1, 1, 1, 1, 1, 12 / 11.2, 13 / 11.2, 12 / 11.2, 11 / 11.2, 11.5 / 11.2, 11.5 / 11.2]
    )
    assert m["n_trades"] == 1 and m["win_rate"] == 1.0
    assert m["total_return"] == pytest.approx(11.5 / 11.2 - 1, rel=1e-12)
    assert m["max_drawdown"] == pytest.approx(11 / 13 - 1, rel=1e-12)
    assert m["exposure"] == pytest.approx(4 / 11)  # held through bars 5-8
    curve = np.concatenate(([1.0], equity))
    r = curve[1:] / curve[:-1] - 1
    expected_sharpe = r.mean() / r.std(ddof=1) * math.sqrt(365 * 1440)  # 1-minute bars, 24/7
    assert m["sharpe"] == pytest.approx(expected_sharpe, rel=1e-9)


def test_hand_computed_costs_and_both_engines(hand_pair):
    ltf, htf = hand_pair
    params = {"signal": "ma_cross", "ma_fast": 2, "ma_slow": 3}
    fee, bps = 0.001, 5.0
    s = bps * 1e-4
    expected = (1 - fee) / (11.2 * (1 + s)) * 11.5 * (1 - s) * (1 - fee) - 1
    for engine in ("python", "numba"):
        m = backtest_ltf_htf(ltf, htf, params, OFF, fee=fee, slippage_bps=bps, engine=engine)
        assert m["total_return"] == pytest.approx(expected, rel=1e-12)
    free = backtest_ltf_htf(ltf, htf, params, OFF, fee=0.0, slippage_bps=0.0)["total_return"]
    assert expected < free


def test_stop_loss_fills_at_stop_or_gap(hand_pair):
    ltf, htf = hand_pair
    params = {"signal": "ma_cross", "ma_fast": 2, "ma_slow": 3, "stop_pct": 0.05}
    # Entry 11.2 -> stop 10.64; bar 8 (open 12, low 11) does not touch it, bar 9 opens at
    # 11.5 (signal exit) first. Make bar 7 dip to 10: the stop fills at 10.64.
    dipped = ltf.copy()
    dipped.loc[7, "low"] = 10.0
    m = backtest_ltf_htf(dipped, htf, params, {**OFF, "useStop": True}, fee=0.0, slippage_bps=0.0)
    assert m["total_return"] == pytest.approx(10.64 / 11.2 - 1, rel=1e-12)
    # A bar opening below the stop fills at its open (gap through the stop).
    gapped = dipped.copy()
    gapped.loc[7, ["open", "low"]] = [10.0, 9.5]
    m = backtest_ltf_htf(gapped, htf, params, {**OFF, "useStop": True}, fee=0.0, slippage_bps=0.0)
    assert m["total_return"] == pytest.approx(10.0 / 11.2 - 1, rel=1e-12)
    # Take-profit at +10% = 12.32: bar 6 (high 13) reaches it.
    tp = {**params, "take_profit_pct": 0.10}
    m = backtest_ltf_htf(ltf, htf, tp, {**OFF, "useTakeProfit": True}, fee=0.0, slippage_bps=0.0)
    assert m["total_return"] == pytest.approx(0.10, rel=1e-12)


def test_open_position_closed_at_last_close():
    ltf = hand_bars([10, 10, 10, 10, 10, 11], [10, 10, 10, 10, 11, 12])
    htf = hand_bars([10, 10], [10, 10], minutes=5)
    m = backtest_ltf_htf(
        ltf, htf, {"signal": "ma_cross", "ma_fast": 2, "ma_slow": 3}, OFF, 0.0, 0.0
    )
    assert m["n_trades"] == 1 and m["total_return"] == pytest.approx(12 / 11 - 1)


def test_htf_filter_blocks_entries_in_a_downtrend(hand_pair):
    ltf, _ = hand_pair
    falling = hand_bars([12, 11, 10], [11, 10, 9], minutes=5)
    falling["timestamp"] -= pd.Timedelta("10min")  # HTF bars closed before the LTF bars
    params = {"signal": "ma_cross", "ma_fast": 2, "ma_slow": 3, "htf_ema": 2}
    m = backtest_ltf_htf(ltf, falling, params, {**OFF, "useHTF": True}, 0.0, 0.0)
    assert m["n_trades"] == 0 and m["total_return"] == 0.0 and m["sharpe"] == 0.0
    rising = falling.assign(close=[13.0, 14.0, 15.0])
    assert backtest_ltf_htf(ltf, rising, params, {**OFF, "useHTF": True}, 0.0, 0.0)["n_trades"] == 1


def test_htf_value_reaches_ltf_only_after_the_htf_bar_closed(market):
    _, ltf, htf = market
    pair = prepare_pair(ltf, htf)
    base = htf_trend_on_ltf(pair, 5)
    k = 30  # an HTF bar in the middle
    htf_close_time = htf["timestamp"].iloc[k] + pd.Timedelta("1h")
    ltf_close_time = ltf["timestamp"] + pd.Timedelta("5min")
    before = (ltf_close_time < htf_close_time).to_numpy()
    for value in (1e9, 1e-9):  # push bar k's close far above, then far below, its EMA
        changed = htf.copy()
        changed.loc[k, "close"] = value
        trend = htf_trend_on_ltf(prepare_pair(ltf, changed), 5)
        np.testing.assert_array_equal(trend[before], base[before])
        # ... and it shows from the LTF bar that closes with the HTF bar, not later.
        first_after = int(np.argmin(before))
        assert ltf_close_time.iloc[first_after] == htf_close_time
        assert trend[first_after] == (value > 1)


def test_signals_do_not_change_when_the_future_is_cut_off(market):
    base, ltf, htf = market
    params = {"rsi_period": 10, "rsi_low": 40.0, "rsi_high": 60.0, "htf_ema": 6}
    full_entry, full_exit = ltf_signals(prepare_pair(ltf, htf), params)
    cut = base.iloc[: 2 * 1440 + 317]  # ends mid-hour
    cut_ltf, cut_htf = resample(cut, "5m"), resample(cut, "1h")
    entry, exit_ = ltf_signals(prepare_pair(cut_ltf, cut_htf), params)
    n = len(cut_ltf)
    np.testing.assert_array_equal(entry, full_entry[:n])
    np.testing.assert_array_equal(exit_, full_exit[:n])
    assert entry.any() and not full_entry[:n].all()


def test_strategy_trades_and_engines_agree(market):
    _, ltf, htf = market
    pair = prepare_pair(ltf, htf)
    feats = {"useHTF": True, "useStop": True, "useTakeProfit": True}
    rsi_params = {"signal": "rsi", "rsi_low": 40.0, "rsi_high": 60.0, "htf_ema": 6}
    for params in (rsi_params, {"signal": "ma_cross", "ma_fast": 5, "ma_slow": 40, "htf_ema": 6}):
        py = backtest_pair(pair, params, feats, engine="python")
        nb = backtest_pair(pair, params, feats, engine="numba")
        assert py["n_trades"] >= 3
        assert py == pytest.approx(nb, rel=1e-12)
        costly = backtest_pair(pair, params, feats, fee=0.002, slippage_bps=10)
        free = backtest_pair(pair, params, feats, fee=0.0, slippage_bps=0.0)
        assert costly["total_return"] < nb["total_return"] < free["total_return"]


def test_rsi_matches_the_backtest_reference(market):
    close = market[1]["close"].to_numpy()[:500]
    ref = rsi_reference(close[:, None], 14)[:, 0]
    np.testing.assert_allclose(rsi(close, 14), ref, rtol=1e-12, equal_nan=True)
    loop = np.empty(len(close))
    _simulate.rsi_loop(close, 14, loop)
    np.testing.assert_array_equal(loop, ref)


def test_feature_switches():
    assert parse_feature_switches(["useTakeProfit"], ["useStop"]) == {
        "useHTF": True,
        "useStop": False,
        "useTakeProfit": True,
    }
    assert parse_feature_switches(["useHTF,useStop"], None, known=("useHTF", "useStop")) == {
        "useHTF": True,
        "useStop": True,
    }
    assert parse_feature_switches([], ["useHTF"])["useHTF"] is False
    with pytest.raises(
        UserError, match=r"unknown feature 'useEventFilter'.*known features are useHTF, useStop"
    ):
        parse_feature_switches(["useHTF"], ["useEventFilter"])
    with pytest.raises(UserError, match="'useStop' is both enabled and disabled"):
        parse_feature_switches(["useStop"], ["useStop"])
    with pytest.raises(UserError, match="unknown feature 'useTrail'"):
        backtest_pair(None, {}, {"useTrail": True})


def test_search_space_and_params():
    space = search_space("rsi", {"useHTF": True, "useStop": False})
    assert set(space) == {"rsi_period", "rsi_low", "rsi_high", "htf_ema"}
    assert space["rsi_period"] == ("int", 5, 50)
    ma = search_space("ma_cross", {"useHTF": False, "useStop": True, "useTakeProfit": True})
    assert set(ma) == {"ma_fast", "ma_slow", "stop_pct", "take_profit_pct"}
    assert ma["ma_fast"][2] < ma["ma_slow"][1]  # every sample has fast < slow
    check_params({"rsi_period": 14, "rsi_low": 30.0, "rsi_high": 70.0, "htf_ema": 20}, space)
    with pytest.raises(UserError, match=r"missing \['htf_ema'\], unexpected \['stop_pct'\]"):
        check_params({"rsi_period": 14, "rsi_low": 30.0, "rsi_high": 70.0, "stop_pct": 0.01}, space)
    with pytest.raises(UserError, match="rsi_low=95.0 is outside"):
        check_params({"rsi_period": 14, "rsi_low": 95.0, "rsi_high": 70.0, "htf_ema": 20}, space)
    with pytest.raises(UserError, match="unknown signal 'macd'"):
        search_space("macd")


def test_objective_values():
    metrics = {"total_return": 0.12, "sharpe": 1.5, "max_drawdown": -0.08}
    assert objective_values(metrics, multi_objective=False) == 1.5
    assert objective_values(metrics, False, single="total_return") == 0.12
    assert objective_values(metrics, multi_objective=True) == (0.12, 0.08)
    assert MULTI_OBJECTIVE_DIRECTIONS == ("maximize", "minimize")
    with pytest.raises(UserError, match="unknown objective"):
        objective_values(metrics, False, single="calmar")


def test_bad_pairs(hand_pair):
    ltf, htf = hand_pair
    with pytest.raises(UserError, match="must be longer than LTF"):
        prepare_pair(htf, ltf)
    with pytest.raises(UserError, match="must be >= 0"):
        backtest_ltf_htf(ltf, htf, {}, OFF, fee=-0.1)
