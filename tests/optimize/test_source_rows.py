"""Source teams' rows: --config, exchange-prefixed symbols, {hash}, per-trial timers, --status."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from perfopt.cli import main
from perfopt.errors import UserError
from perfopt.intraday import grid_context
from perfopt.intraday.bars import bare_symbol, load_bars


def test_exchange_prefixed_symbols_read_the_bare_symbols_bars(intraday_dir: Path) -> None:
    assert bare_symbol("BINANCE:ENAUSDT") == "ENAUSDT" and bare_symbol("ENAUSDT") == "ENAUSDT"
    a, b = load_bars(intraday_dir, "BINANCE:BTCUSDT"), load_bars(intraday_dir, "BTCUSDT")
    assert a.equals(b)
    with pytest.raises(UserError, match="EXCHANGE:SYMBOL"):
        bare_symbol("BIN ANCE:BTCUSDT")
    with pytest.raises(UserError, match="symbols present: BTCUSDT"):
        load_bars(intraday_dir, "BINANCE:ENAUSDT")


def test_hash_placeholder_follows_the_settings_not_the_data_path() -> None:
    base = {"data_dir": "/a", "symbol": "X", "ltf": "1m", "htf": "1h", "signal": "rsi"}
    h = grid_context("X", "1m", "1h", 1, 1, settings=base)["hash"]
    assert len(h) == 8 and int(h, 16) >= 0
    assert grid_context("X", "1m", "1h", 1, 1, settings={**base, "data_dir": "/b"})["hash"] == h
    assert grid_context("X", "1m", "1h", 1, 1, settings={**base, "signal": "ma_cross"})["hash"] != h


def test_a_config_file_runs_a_grid_with_flags_winning_and_status_reads_it(
    intraday_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    storage = f"journal://{tmp_path}/g.log"
    cfg = tmp_path / "search.toml"
    cfg.write_text(
        f'[optimize]\ndata = "{intraday_dir}"\nsymbol = "BINANCE:BTCUSDT"\n'
        f'timeframe-grid = "5m@1h"\nn-trials = 50\nstorage = "{storage}"\n'
        f'study-template = "{{symbol_slug}}_{{ltf_slug}}_{{htf_slug}}_{{hash}}"\n'
        f'reports-dir = "{tmp_path / "rep"}"\nstudies-dir = "{tmp_path / "st"}"\n'
        "no-progress = true\n"
    )
    # -v in a fresh process, as a user runs it: the trial worker processes log too
    done = subprocess.run(
        [sys.executable, "-m", "perfopt", "-v", "optimize", "--config", str(cfg),
         "--n-trials", "3", "--n-jobs", "2"],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    out = done.stdout
    grid = json.loads((tmp_path / "rep" / "grid_summary.json").read_text())
    (pair,) = grid["pairs"]
    name = pair["study"]
    assert name.startswith("binance_btcusdt_5m_1h_") and len(name.split("_")[-1]) == 8
    assert f"{name} " in out and "3/3" in out  # the flag's 3 trials, not the file's 50
    # with -v (INFO), each trial logs its stage timers
    lines = [x for x in done.stderr.splitlines() if "perfopt.optimize.trials: trial" in x]
    assert sorted(x.split("trials: ")[1].split(":")[0] for x in lines) == [
        "trial 0", "trial 1", "trial 2",
    ]  # fmt: skip
    assert all("signals " in x and "returns " in x and "optuna " in x for x in lines)

    assert main(["optimize", "--status", "--storage", storage]) == 0
    status = capsys.readouterr().out
    assert f"study {name} in " in status and "3 complete" in status
    assert "counted toward --n-trials: 3/20" in status and "trials/min" in status
    assert main(["optimize", "--status", "--storage", storage, "--study-name", "nope"]) == 2
    assert f"studies there: {name}" in capsys.readouterr().err
    missing = f"sqlite:///{tmp_path}/none.db"
    assert main(["optimize", "--status", "--storage", missing]) == 2
    assert not (tmp_path / "none.db").exists()  # read-only: no empty file left behind


def test_config_file_errors_name_the_key(intraday_dir: Path, tmp_path: Path, capsys) -> None:
    cfg = tmp_path / "bad.toml"
    cfg.write_text(f'[optimize]\ndata = "{intraday_dir}"\nn-trails = 3\n')
    assert main(["optimize", "--config", str(cfg)]) == 2
    err = capsys.readouterr().err
    assert "unknown key 'n-trails' in [optimize]" in err and "bad.toml" in err
