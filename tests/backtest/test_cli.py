from __future__ import annotations

import json
import multiprocessing
import sqlite3

import pandas as pd
import pytest

from perfopt.cli import main


def run_cli(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_backtest_prints_stages_and_writes_outputs(capsys, small_data, tmp_path):
    code, out, _ = run_cli(
        capsys, "backtest", "--data", str(small_data), "--json", str(tmp_path / "r.json"),
        "--equity-csv", str(tmp_path / "e.csv"), "--trades-csv", str(tmp_path / "t.csv"),
    )
    assert code == 0
    for stage in ("load", "signals", "simulate", "metrics", "total", "sharpe"):
        assert stage in out
    equity = pd.read_csv(tmp_path / "e.csv")
    assert list(equity.columns) == ["date", "equity"]
    trades = pd.read_csv(tmp_path / "t.csv", keep_default_na=False)
    assert list(trades.columns) == [
        "ticker", "entry_date", "entry_price", "exit_date", "exit_price", "shares", "pnl"
    ]
    open_rows = trades[trades["exit_date"] == ""]
    assert len(open_rows) > 0 and (open_rows["exit_price"] == "").all() and (open_rows["pnl"] == "").all()
    report = json.loads((tmp_path / "r.json").read_text())
    assert {"metrics", "stages", "equity", "trades"} <= set(report)
    assert report["metrics"]["n_trades"] == len(trades)


def test_data_generate_and_info(capsys, tmp_path):
    code, out, _ = run_cli(capsys, "data", "generate", "--tickers", "5", "--days", "30", "--out", str(tmp_path / "d"))
    assert code == 0 and "5 tickers x 30 dates" in out
    code, out, _ = run_cli(capsys, "data", "info", str(tmp_path / "d"))
    assert code == 0 and "tickers:  5" in out and "dates:    30" in out


def test_import_csv_cli(capsys, tmp_path):
    csv = tmp_path / "bars.csv"
    csv.write_text("ticker,date,open,high,low,close,volume\nAAA,2024-01-02,1,2,0.5,1.5,100\nAAA,2024-01-03,1.5,2,1,1.8,90\n")
    code, out, _ = run_cli(capsys, "data", "import-csv", str(csv), "--out", str(tmp_path / "d"))
    assert code == 0 and "1 tickers x 2 dates" in out
    rows = sqlite3.connect(tmp_path / "d" / "prices.sqlite").execute("SELECT COUNT(*) FROM prices").fetchone()
    assert rows == (2,)


def bad_inputs(data, tmp):
    missing_table = tmp / "no_table"
    missing_table.mkdir()
    sqlite3.connect(missing_table / "prices.sqlite").execute("CREATE TABLE other (x)").connection.commit()
    empty = tmp / "empty"
    empty.mkdir()
    lacking = [m for m in ("spawn", "fork", "forkserver", "threads") if m not in multiprocessing.get_all_start_methods()]
    return [
        (["--data", str(tmp / "nowhere")], "does not exist"),
        (["--data", str(empty)], "prices.h5 not found"),
        (["--data", str(missing_table), "--source", "sqlite"], "no table 'prices'"),
        (["--data", str(data), "--tickers", ","], "empty"),
        (["--data", str(data), "--tickers", "S0001,ZZZ"], "unknown ticker"),
        (["--data", str(data), "--rsi-period", "1"], "rsi-period must be at least 2"),
        (["--data", str(data), "--oversold", "70", "--overbought", "70"], "oversold < overbought"),
        (["--data", str(data), "--workers", "0"], "workers must be at least 1"),
        (["--data", str(data), "--workers", "2", "--start-method", lacking[0]], "not available on this OS"),
        (["--data", str(data), "--source", "parquet", "--access", "naive"], "point queries"),
    ]


def test_bad_inputs_exit_2_with_one_line(capsys, small_data, tmp_path):
    for argv, message in bad_inputs(small_data, tmp_path):
        code, out, err = run_cli(capsys, "backtest", *argv)
        assert code == 2, argv
        assert message in err, (argv, err)
        assert "Traceback" not in err and len(err.strip().splitlines()) == 1, err


def test_bad_csv_exits_2(capsys, tmp_path):
    csv = tmp_path / "bad.csv"
    csv.write_text("date,ticker,open,high,low,close,volume\n2024-01-02,A,1,1,1,0,5\n")
    code, _, err = run_cli(capsys, "data", "import-csv", str(csv), "--out", str(tmp_path / "o"))
    assert code == 2 and "non-positive price" in err
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize("command", [[], ["data"], ["backtest", "--help"]])
def test_help_lists_commands(capsys, command):
    try:
        code = main(command)
    except SystemExit as exc:  # --help exits through argparse
        code = exc.code
    out = capsys.readouterr().out
    assert code in (0, 2)
    assert "usage" in out
