"""Intraday bars, resampling, the LTF/HTF strategy and timeframe-grid helpers.

Pure library code for the timeframe-grid studies (docs/workloads.md): no optuna here.
numba is imported only when a backtest runs with the default engine.
"""

from __future__ import annotations

from perfopt.intraday._simulate import compiled_simulate
from perfopt.intraday.bars import (
    BAR_COLUMNS,
    bars_path,
    generate_intraday,
    list_symbols,
    load_bars,
    write_bars,
    write_intraday,
)
from perfopt.intraday.grid import (
    DEFAULT_RUN_TAG_TEMPLATE,
    DEFAULT_STUDY_TEMPLATE,
    PLACEHOLDERS,
    grid_context,
    parse_timeframe_grid,
    render_template,
    report_dir,
    run_timestamp,
    sqlite_study_path,
    symbol_slug,
)
from perfopt.intraday.resample import resample
from perfopt.intraday.strategy import (
    DEFAULT_FEATURES,
    DEFAULT_FEE,
    DEFAULT_PARAMS,
    DEFAULT_SLIPPAGE_BPS,
    FEATURES,
    MULTI_OBJECTIVE_DIRECTIONS,
    SIGNALS,
    SINGLE_OBJECTIVE_DIRECTION,
    PairData,
    backtest_ltf_htf,
    backtest_pair,
    check_params,
    objective_values,
    parse_feature_switches,
    prepare_pair,
    search_space,
)
from perfopt.intraday.timeframes import ACCEPTED_TIMEFRAMES, Timeframe, parse_timeframe

__all__ = [
    "ACCEPTED_TIMEFRAMES",
    "BAR_COLUMNS",
    "DEFAULT_FEATURES",
    "DEFAULT_FEE",
    "DEFAULT_PARAMS",
    "DEFAULT_RUN_TAG_TEMPLATE",
    "DEFAULT_SLIPPAGE_BPS",
    "DEFAULT_STUDY_TEMPLATE",
    "FEATURES",
    "MULTI_OBJECTIVE_DIRECTIONS",
    "PLACEHOLDERS",
    "SIGNALS",
    "SINGLE_OBJECTIVE_DIRECTION",
    "PairData",
    "Timeframe",
    "backtest_ltf_htf",
    "compiled_simulate",
    "backtest_pair",
    "bars_path",
    "check_params",
    "generate_intraday",
    "grid_context",
    "list_symbols",
    "load_bars",
    "objective_values",
    "parse_feature_switches",
    "parse_timeframe",
    "parse_timeframe_grid",
    "prepare_pair",
    "render_template",
    "report_dir",
    "resample",
    "run_timestamp",
    "search_space",
    "sqlite_study_path",
    "symbol_slug",
    "write_bars",
    "write_intraday",
]
