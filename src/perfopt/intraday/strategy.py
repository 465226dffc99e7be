"""LTF/HTF strategy: signals on the lower timeframe, a trend filter from the higher one.

Long-only (spot crypto style; no shorting). Two LTF signals, chosen by `params["signal"]`:
- "rsi" (default): Wilder RSI(`rsi_period`) mean reversion: enter when RSI < `rsi_low`,
  exit when RSI > `rsi_high`. The RSI is the backtest's (`perfopt.backtest`): its
  reference loop for the numpy engine, its numba kernel for the numba one.
- "ma_cross": enter when SMA(`ma_fast`) crosses above SMA(`ma_slow`), exit when it
  crosses below.
Features (named switches, `features` mapping):
- useHTF: entries only while the HTF close is above its EMA(`htf_ema`). The HTF value
  reaches an LTF bar only once the HTF bar has closed (HTF open + HTF length <= LTF
  bar's close time), so no LTF decision ever sees an unfinished HTF bar.
- useStop: stop-loss `stop_pct` below the entry fill.
- useTakeProfit: take-profit `take_profit_pct` above the entry fill.
Trade timing and costs: see `perfopt.intraday._simulate`. Metrics: total return,
Sharpe of per-bar returns annualized for 24/7 trading (525,600 / LTF minutes bars a
year; 0 when the equity never moves), max drawdown (<= 0), trades, win rate, exposure.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from perfopt.errors import UserError
from perfopt.intraday.resample import timestamps_ns

SIGNALS: tuple[str, ...] = ("rsi", "ma_cross")
FEATURES: tuple[str, ...] = ("useHTF", "useStop", "useTakeProfit")
DEFAULT_FEATURES: dict[str, bool] = {"useHTF": True, "useStop": True, "useTakeProfit": False}
DEFAULT_PARAMS: dict[str, Any] = {
    "signal": "rsi",
    "rsi_period": 14,
    "rsi_low": 30.0,
    "rsi_high": 70.0,
    "ma_fast": 10,
    "ma_slow": 50,
    "htf_ema": 20,
    "stop_pct": 0.01,
    "take_profit_pct": 0.02,
}
DEFAULT_FEE = 0.0004  # 4 bps per side: a typical crypto taker fee
DEFAULT_SLIPPAGE_BPS = 1.0
MINUTES_PER_YEAR = 365 * 1440  # crypto trades 24/7
# Optuna directions for objective_values(..., multi_objective=True): (return, |drawdown|).
MULTI_OBJECTIVE_DIRECTIONS: tuple[str, str] = ("maximize", "minimize")
SINGLE_OBJECTIVE_DIRECTION = "maximize"
SINGLE_OBJECTIVES: tuple[str, ...] = ("sharpe", "total_return")

_SIGNAL_PARAMS = {
    "rsi": {
        "rsi_period": ("int", 5, 50),
        "rsi_low": ("float", 10.0, 40.0),
        "rsi_high": ("float", 55.0, 90.0),
    },
    "ma_cross": {"ma_fast": ("int", 2, 30), "ma_slow": ("int", 31, 200)},
}
_FEATURE_PARAMS = {
    "useHTF": {"htf_ema": ("int", 5, 100)},
    "useStop": {"stop_pct": ("float", 0.002, 0.05)},
    "useTakeProfit": {"take_profit_pct": ("float", 0.002, 0.10)},
}


def _split_names(values: Sequence[str] | None) -> list[str]:
    names: list[str] = []
    for value in values or ():
        names.extend(n.strip() for n in str(value).split(",") if n.strip())
    return names


def parse_feature_switches(
    enable: Sequence[str] | None,
    disable: Sequence[str] | None,
    known: Sequence[str] = FEATURES,
    defaults: Mapping[str, bool] | None = None,
) -> dict[str, bool]:
    """Turn `--enable A --disable B` lists (commas allowed) into {feature: on} over `known`."""
    base = DEFAULT_FEATURES if defaults is None else defaults
    result = {name: bool(base.get(name, False)) for name in known}
    on, off = _split_names(enable), _split_names(disable)
    for name in on + off:
        if name not in result:
            raise UserError(
                f"unknown feature {name!r} in --enable/--disable: known features are {', '.join(known)}"
            )
    both = sorted(set(on) & set(off))
    if both:
        raise UserError(
            f"feature {both[0]!r} is both enabled and disabled: pass it to only one of --enable/--disable"
        )
    result.update(dict.fromkeys(on, True))
    result.update(dict.fromkeys(off, False))
    return result


def search_space(
    signal: str = "rsi", features: Mapping[str, bool] | None = None
) -> dict[str, tuple]:
    """Parameters the optimizer samples: {name: ("int"|"float", low, high)} for this setup.

    Only parameters that matter are listed: those of the chosen signal and of the enabled
    features (a disabled stop has no stop_pct to tune).
    """
    _check_signal(signal)
    feats = _features(features)
    space = dict(_SIGNAL_PARAMS[signal])
    for name, extra in _FEATURE_PARAMS.items():
        if feats[name]:
            space.update(extra)
    return space


def check_params(params: Mapping[str, Any], space: Mapping[str, tuple]) -> None:
    """Raise UserError unless `params` gives exactly the space's names, each within range."""
    names = set(params) - {"signal"}
    if names != set(space):
        missing, extra = sorted(set(space) - names), sorted(names - set(space))
        raise UserError(
            f"parameters do not match the search space: missing {missing or 'none'}, unexpected {extra or 'none'}"
        )
    for name, (kind, low, high) in space.items():
        value = params[name]
        if not isinstance(value, int | float) or not low <= value <= high:
            raise UserError(
                f"parameter {name}={value!r} is outside the search space [{low}, {high}]"
            )
        if kind == "int" and float(value) != int(value):
            raise UserError(f"parameter {name}={value!r} must be an integer")


def _check_signal(signal: str) -> None:
    if signal not in SIGNALS:
        raise UserError(f"unknown signal {signal!r}: use one of {', '.join(SIGNALS)}")


def _features(features: Mapping[str, bool] | None) -> dict[str, bool]:
    feats = dict(DEFAULT_FEATURES)
    for name, value in (features or {}).items():
        if name not in feats:
            raise UserError(f"unknown feature {name!r}: known features are {', '.join(FEATURES)}")
        feats[name] = bool(value)
    return feats


# --- indicators -------------------------------------------------------------------


def rsi(close: np.ndarray, period: int) -> np.ndarray:
    """Wilder RSI (first average = mean of the first `period` changes); NaN before it.

    The backtest's reference loop on one column, so every engine gives the same bits.
    """
    from perfopt.backtest.reference import rsi_reference

    column = np.asarray(close, dtype=np.float64).reshape(-1, 1)
    return rsi_reference(column, period)[:, 0]


def sma(x: np.ndarray, window: int) -> np.ndarray:
    """Simple moving average; NaN for the first window-1 values."""
    x = np.asarray(x, dtype=np.float64)
    out = np.full(len(x), np.nan)
    if len(x) >= window:
        csum = np.cumsum(np.concatenate(([0.0], x)))
        out[window - 1 :] = (csum[window:] - csum[:-window]) / window
    return out


def ema(x: np.ndarray, span: int) -> np.ndarray:
    """EMA with alpha 2/(span+1) started at the first value; NaN for the first span-1."""
    out = (
        pd.Series(np.asarray(x, dtype=np.float64))
        .ewm(span=span, adjust=False)
        .mean()
        .to_numpy()
        .copy()
    )
    out[: span - 1] = np.nan
    return out


# --- data of one LTF/HTF pair ------------------------------------------------------


@dataclass(frozen=True)
class PairData:
    """Numpy views of one LTF/HTF pair, prepared once and reused by every trial."""

    open: np.ndarray
    high: np.ndarray
    low: np.ndarray
    close: np.ndarray
    ltf_minutes: int
    htf_close: np.ndarray
    htf_minutes: int
    # For each LTF bar: index of the last HTF bar closed by the LTF bar's close (-1: none).
    htf_index: np.ndarray


def _bar_minutes(ts: np.ndarray, what: str) -> int:
    if len(ts) < 2:
        raise UserError(f"{what} bars need at least 2 bars, got {len(ts)}")
    return int(np.min(np.diff(ts)) // 60_000_000_000)


def prepare_pair(ltf_bars: pd.DataFrame, htf_bars: pd.DataFrame) -> PairData:
    """Extract arrays and the no-look-ahead HTF->LTF index map for one pair."""
    lts, hts = timestamps_ns(ltf_bars), timestamps_ns(htf_bars)
    ltf_min, htf_min = _bar_minutes(lts, "LTF"), _bar_minutes(hts, "HTF")
    if htf_min <= ltf_min:
        raise UserError(f"HTF bars ({htf_min} min) must be longer than LTF bars ({ltf_min} min)")
    step = 60_000_000_000
    htf_closes_at = hts + htf_min * step
    ltf_closes_at = lts + ltf_min * step
    # An HTF bar is usable on an LTF bar once it closed at or before that LTF bar's close.
    idx = np.searchsorted(htf_closes_at, ltf_closes_at, side="right") - 1
    col = {
        c: np.ascontiguousarray(ltf_bars[c].to_numpy(dtype=np.float64))
        for c in ("open", "high", "low", "close")
    }
    return PairData(
        col["open"], col["high"], col["low"], col["close"], ltf_min,
        htf_bars["close"].to_numpy(dtype=np.float64), htf_min, idx.astype(np.int64),
    )  # fmt: skip


def htf_trend_on_ltf(pair: PairData, htf_ema: int) -> np.ndarray:
    """Bool per LTF bar: the last closed HTF bar's close is above its EMA(htf_ema)."""
    line = ema(pair.htf_close, int(htf_ema))
    up_htf = pair.htf_close > line  # NaN EMA (warm-up) compares False
    idx = pair.htf_index
    return np.where(idx >= 0, up_htf[np.maximum(idx, 0)], False)


def ltf_signals(
    pair: PairData,
    params: Mapping[str, Any],
    features: Mapping[str, bool] | None = None,
    engine: str = "numpy",
) -> tuple[np.ndarray, np.ndarray]:
    """Return (entry, exit) bool arrays per LTF bar, entries already gated by the filters."""
    p = {**DEFAULT_PARAMS, **params}
    feats = _features(features)
    _check_signal(p["signal"])
    if p["signal"] == "rsi":
        if engine == "numba":
            from perfopt.backtest.kernels import rsi_kernel

            column = np.ascontiguousarray(pair.close, dtype=np.float64).reshape(-1, 1)
            value = rsi_kernel(column, int(p["rsi_period"]))[:, 0]
        else:
            value = rsi(pair.close, int(p["rsi_period"]))
        entry, exit_ = value < p["rsi_low"], value > p["rsi_high"]
    else:
        fast, slow = sma(pair.close, int(p["ma_fast"])), sma(pair.close, int(p["ma_slow"]))
        above = fast > slow
        prev = np.concatenate(([False], above[:-1]))
        valid = ~np.isnan(slow) & ~np.isnan(np.concatenate(([np.nan], slow[:-1])))
        entry, exit_ = above & ~prev & valid, ~above & prev & valid
    if feats["useHTF"]:
        entry = entry & htf_trend_on_ltf(pair, int(p["htf_ema"]))
    return entry, exit_


# --- backtest and metrics -----------------------------------------------------------


def equity_metrics(equity: np.ndarray, bar_minutes: int) -> dict[str, float]:
    """Total return, annualized Sharpe, max drawdown from per-bar equity marks (start 1.0)."""
    curve = np.concatenate(([1.0], np.asarray(equity, dtype=np.float64)))
    returns = curve[1:] / curve[:-1] - 1.0
    std = float(np.std(returns, ddof=1)) if len(returns) > 1 else 0.0
    sharpe = (
        float(np.mean(returns)) / std * math.sqrt(MINUTES_PER_YEAR / bar_minutes)
        if std > 0
        else 0.0
    )
    drawdown = curve / np.maximum.accumulate(curve) - 1.0
    return {
        "total_return": float(curve[-1] - 1.0),
        "sharpe": sharpe,
        "max_drawdown": float(drawdown.min()),
    }


def backtest_pair(
    pair: PairData,
    params: Mapping[str, Any],
    features: Mapping[str, bool] | None = None,
    fee: float = DEFAULT_FEE,
    slippage_bps: float = DEFAULT_SLIPPAGE_BPS,
    engine: str = "numba",
) -> dict[str, float]:
    """Backtest a prepared pair; same result as `backtest_ltf_htf`, for repeated trials."""
    if fee < 0 or slippage_bps < 0:
        raise UserError(f"fee ({fee}) and slippage_bps ({slippage_bps}) must be >= 0")
    if engine not in ("numba", "python"):
        raise UserError(f"unknown engine {engine!r}: use numba or python")
    p = {**DEFAULT_PARAMS, **params}
    feats = _features(features)
    entry, exit_ = ltf_signals(pair, p, feats, engine="numpy" if engine == "python" else "numba")
    from perfopt.intraday._simulate import compiled_simulate, simulate

    run = simulate if engine == "python" else compiled_simulate()
    equity = np.empty(len(pair.close))
    n_trades, n_wins, held = run(
        pair.open, pair.high, pair.low, pair.close, entry, exit_,
        feats["useStop"], float(p["stop_pct"]), feats["useTakeProfit"], float(p["take_profit_pct"]),
        float(fee), float(slippage_bps) * 1e-4, equity,
    )  # fmt: skip
    metrics = equity_metrics(equity, pair.ltf_minutes)
    metrics.update(
        n_trades=int(n_trades),
        win_rate=n_wins / n_trades if n_trades else 0.0,
        exposure=held / len(equity) if len(equity) else 0.0,
        n_bars=len(equity),
    )
    return metrics


def backtest_ltf_htf(
    ltf_bars: pd.DataFrame,
    htf_bars: pd.DataFrame,
    params: Mapping[str, Any],
    features: Mapping[str, bool] | None = None,
    fee: float = DEFAULT_FEE,
    slippage_bps: float = DEFAULT_SLIPPAGE_BPS,
    engine: str = "numba",
) -> dict[str, float]:
    """Backtest the strategy on LTF bars with the HTF filter; return its metrics."""
    return backtest_pair(
        prepare_pair(ltf_bars, htf_bars), params, features, fee, slippage_bps, engine
    )


def objective_values(
    metrics: Mapping[str, float], multi_objective: bool, single: str = "sharpe"
) -> float | tuple[float, float]:
    """Trial value(s): `single` (Sharpe by default) or (total_return, |max_drawdown|)."""
    if multi_objective:
        return float(metrics["total_return"]), abs(float(metrics["max_drawdown"]))
    if single not in SINGLE_OBJECTIVES:
        raise UserError(f"unknown objective {single!r}: use one of {', '.join(SINGLE_OBJECTIVES)}")
    return float(metrics[single])
