"""Resample base OHLCV bars to a coarser timeframe.

Rules (the exchanges' and TradingView's):
- Bins are aligned to UTC epoch multiples of the target length (a 4h bar starts at
  00:00, 04:00, ... UTC; a 1d bar at 00:00 UTC). The output `timestamp` is the bin's
  open time; the bar closes at timestamp + timeframe.
- open = first base open, high = max, low = min, close = last base close,
  volume = sum.
- A bar is emitted only when it is complete: every base bar of its bin exists. So the
  partial last bar (data that ends mid-bin) and a partial first bar are dropped, and so
  is any bin containing a gap (a missing base bar). Strict on purpose: a 1h bar built
  from 45 minutes would carry a wrong range and volume, and the strategy would trade on
  it as if it were whole.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from perfopt.errors import UserError
from perfopt.intraday.bars import BAR_COLUMNS
from perfopt.intraday.timeframes import Timeframe, parse_timeframe


def _as_timeframe(value: Timeframe | str) -> Timeframe:
    return value if isinstance(value, Timeframe) else parse_timeframe(value)


def timestamps_ns(bars: pd.DataFrame) -> np.ndarray:
    """The bars' open times as int64 nanoseconds since the epoch (UTC)."""
    ts = bars["timestamp"]
    if isinstance(ts.dtype, pd.DatetimeTZDtype) or np.issubdtype(ts.dtype, np.datetime64):
        return pd.DatetimeIndex(ts).as_unit("ns").asi8
    raise UserError(f"bars column 'timestamp' has dtype {ts.dtype}; expected UTC datetimes")


def resample(
    bars: pd.DataFrame, timeframe: Timeframe | str, base: Timeframe | str = "1m"
) -> pd.DataFrame:
    """Aggregate `base`-length bars into complete `timeframe` bars (see the module rules)."""
    tf = _as_timeframe(timeframe)
    base_tf = _as_timeframe(base)
    if tf.minutes % base_tf.minutes:
        raise UserError(
            f"cannot resample {base_tf.slug} bars to {tf.slug}: {tf.slug} is not a multiple of {base_tf.slug}"
        )
    missing = [c for c in BAR_COLUMNS if c not in bars.columns]
    if missing:
        raise UserError(
            f"bars lack the column(s) {', '.join(missing)}; expected {', '.join(BAR_COLUMNS)}"
        )
    ts = timestamps_ns(bars)
    if len(ts) and np.any(ts % base_tf.nanos):
        raise UserError(
            f"bar timestamps are not aligned to {base_tf.slug} boundaries: pass the right base"
        )
    if len(ts) > 1 and np.any(np.diff(ts) <= 0):
        raise UserError("bar timestamps are not strictly increasing: sort them and drop duplicates")
    per_bin = tf.minutes // base_tf.minutes
    if per_bin == 1:  # same length: every validated bar is a complete bar
        same = bars.loc[:, list(BAR_COLUMNS)].reset_index(drop=True).copy()
        same["timestamp"] = pd.DatetimeIndex(ts, tz="UTC").as_unit("ns")
        return same
    bin_id = ts // tf.nanos
    if len(ts) == 0:
        starts = np.empty(0, dtype=np.int64)
    else:
        starts = np.flatnonzero(np.concatenate(([True], bin_id[1:] != bin_id[:-1])))
    counts = np.diff(np.append(starts, len(ts)))
    # Timestamps are unique and aligned, so a full count means no base bar is missing.
    complete = counts == per_bin
    first = starts[complete]
    last = first + per_bin - 1
    out = {"timestamp": pd.DatetimeIndex(bin_id[first] * tf.nanos, tz="UTC").as_unit("ns")}
    cols = {c: bars[c].to_numpy(dtype=np.float64) for c in BAR_COLUMNS[1:]}
    if len(starts):
        out["open"] = cols["open"][first]
        out["high"] = np.maximum.reduceat(cols["high"], starts)[complete]
        out["low"] = np.minimum.reduceat(cols["low"], starts)[complete]
        out["close"] = cols["close"][last]
        out["volume"] = np.add.reduceat(cols["volume"], starts)[complete]
    else:
        for c in BAR_COLUMNS[1:]:
            out[c] = np.empty(0)
    return pd.DataFrame(out)
