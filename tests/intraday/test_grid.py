"""Timeframe-grid parsing, name templates and per-pair output names."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from perfopt.errors import UserError
from perfopt.intraday import (
    DEFAULT_RUN_TAG_TEMPLATE,
    DEFAULT_STUDY_TEMPLATE,
    grid_context,
    parse_timeframe,
    parse_timeframe_grid,
    render_template,
    report_dir,
    run_timestamp,
    sqlite_study_path,
    symbol_slug,
)


def slugs(pairs):
    return [(ltf.slug, htf.slug) for ltf, htf in pairs]


def test_parse_grid():
    assert slugs(parse_timeframe_grid("1m@15m,1m@1h,5m@1h")) == [
        ("1m", "15m"),
        ("1m", "1h"),
        ("5m", "1h"),
    ]
    pairs = parse_timeframe_grid(" 3m @ 15m ; 5min@60 ,")
    assert slugs(pairs) == [("3m", "15m"), ("5m", "1h")]
    assert pairs[1][1].text == "60"


@pytest.mark.parametrize(
    ("grid", "message"),
    [
        ("", "--timeframe-grid is empty"),
        ("1m@15m,1m-1h", r"malformed --timeframe-grid entry '1m-1h': use the form LTF@HTF"),
        ("1m@15m@1h", r"malformed --timeframe-grid entry '1m@15m@1h'"),
        ("1m@", r"malformed --timeframe-grid entry '1m@'"),
        (
            "2m@1h",
            r"entry '2m@1h': unknown timeframe '2m': use one of 1m, 3m, 5m, 15m, 30m, 1h, 4h, 1d",
        ),
        ("1h@15m", r"entry '1h@15m': the HTF \(15m\) must be longer than the LTF \(1h\)"),
        ("1h@60m", r"the HTF \(1h\) must be longer than the LTF \(1h\)"),
        ("1m@1h,1m@60", r"entry '1m@60' repeats the pair 1m@1h"),
    ],
)
def test_grid_errors(grid, message):
    with pytest.raises(UserError, match=message):
        parse_timeframe_grid(grid)


def test_context_and_default_templates():
    ltf, htf = parse_timeframe("1m"), parse_timeframe("60")
    ctx = grid_context("BINANCE:ENAUSDT", ltf, htf, index=2, total=6, suffix="_a1b2")
    digest = ctx.pop("hash")  # of the settings: tests/optimize/test_source_rows.py
    assert len(digest) == 8 and int(digest, 16) >= 0
    assert ctx == {
        "symbol": "BINANCE:ENAUSDT",
        "symbol_slug": "binance_enausdt",
        "ltf": "1m",
        "ltf_slug": "1m",
        "htf": "60",
        "htf_slug": "1h",
        "index": 2,
        "total": 6,
        "suffix": "_a1b2",
    }
    ctx["hash"] = digest
    assert render_template(DEFAULT_STUDY_TEMPLATE, **ctx) == "BINANCE:ENAUSDT_1m_1h_a1b2"
    assert render_template(DEFAULT_RUN_TAG_TEMPLATE, **ctx) == "BINANCE:ENAUSDT_1m_1h"
    assert render_template("{symbol_slug}_{ltf_slug}_{htf_slug}", **ctx) == "binance_enausdt_1m_1h"
    assert render_template("{ltf_slug}_{htf_slug}_{index:02d}of{total}", **ctx) == "1m_1h_02of6"
    assert grid_context("BTCUSDT", "5m", "4h", 1, 1)["suffix"] == ""
    assert symbol_slug("  Binance::ENA-usdt.P ") == "binance_ena_usdt_p"


@pytest.mark.parametrize(
    ("template", "message"),
    [
        ("{symbol}_{tf}", r"unknown placeholder \{tf\} in template"),
        ("{symbol}_{}", r"unknown placeholder \{\}"),
        ("{symbol_slug}_{Symbol}", r"unknown placeholder \{Symbol\}"),
        ("{symbol.lower}", r"unknown placeholder \{symbol.lower\}"),
        ("{symbol", "malformed template"),
        ("{index:q}", "cannot render template"),
        ("{suffix}", "renders an empty name"),
    ],
)
def test_template_errors(template, message):
    ctx = grid_context("BTCUSDT", "1m", "1h", 1, 3)
    with pytest.raises(UserError, match=message):
        render_template(template, **ctx)


def test_unknown_placeholder_lists_the_known_ones():
    with pytest.raises(UserError) as err:
        render_template("{sym}", **grid_context("BTCUSDT", "1m", "1h", 1, 1))
    for name in (
        "{symbol}",
        "{symbol_slug}",
        "{ltf_slug}",
        "{htf_slug}",
        "{index}",
        "{total}",
        "{suffix}",
    ):
        assert name in str(err.value)


def test_output_names():
    ltf, htf = parse_timeframe("1m"), parse_timeframe("15m")
    assert sqlite_study_path("BTCUSDT", ltf, htf) == Path("studies/BTCUSDT_1m_15m.db")
    assert sqlite_study_path("BINANCE:ENAUSDT", ltf, htf, root="/x") == Path(
        "/x/BINANCE_ENAUSDT_1m_15m.db"
    )
    when = datetime(2024, 1, 2, 12, 4, 5, tzinfo=timezone(timedelta(hours=9)))
    assert run_timestamp(when) == "20240102T030405Z"
    assert report_dir("BTCUSDT", ltf, htf, timestamp="20240102T030405Z") == Path(
        "reports/20240102T030405Z_BTCUSDT_1m_15m"
    )
    assert report_dir("ETHUSDT", ltf, htf, root="out").name.endswith("_ETHUSDT_1m_15m")
    assert len(run_timestamp(datetime.now(UTC))) == 16
