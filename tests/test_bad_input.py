"""Bad input, one table per command: exit 2, one line on stderr, no traceback, nothing left.

Each row is (arguments, a fragment of the message, paths that must not exist after).
`{d}` is a valid daily data folder, `{t}` the test's temporary folder, `{f}` an existing
plain file, `{j}` a file of JSON lines of the wrong shape.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from perfopt.cli import main


@pytest.fixture(scope="module")
def daily(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from perfopt.data import generate_panel, write_panel

    out = tmp_path_factory.mktemp("baddaily")
    write_panel(generate_panel(6, "2021-01-01", "2022-12-31", seed=2), out)
    return out


def _expand(items: list[str], daily: Path, tmp: Path) -> list[str]:
    plain = tmp / "plain.txt"
    plain.write_text("not a folder\n")
    wrong = tmp / "wrong.jsonl"
    wrong.write_text(json.dumps([1, 2]) + "\n")
    return [i.format(d=daily, t=tmp, f=plain, j=wrong) for i in items]


def _check(capsys, argv: list[str], message: str, absent: list[str], daily: Path, tmp: Path):
    argv = _expand(argv, daily, tmp)
    rc = main(argv)
    err = capsys.readouterr().err
    assert rc == 2, (argv, err)
    assert len(err.strip().splitlines()) == 1, err
    assert "Traceback" not in err and message in err, err
    for path in _expand(absent, daily, tmp):
        assert not Path(path).exists(), f"{path} left behind by {argv}"
    return err


BACKTEST = [
    (["--json", "{t}/nodir/x.json"], "does not exist", ["{t}/nodir"]),
    (["--json", "{t}"], "is a folder", []),
    (["--equity-csv", "{t}/no/e.csv"], "does not exist", ["{t}/no"]),
    (["--capital", "nan"], "--capital", []),
    (["--capital", "inf"], "--capital", []),
    (["--capital", "-5"], "--capital must be a finite number > 0", []),
    (["--fee", "1.5"], "--fee must be in [0, 1)", []),
    (["--oversold", "nan"], "--oversold", []),
    (["--workers", "0"], "--workers must be at least 1", []),
]


@pytest.mark.parametrize(("args", "message", "absent"), BACKTEST)
def test_backtest(capsys, daily, tmp_path, args, message, absent):
    _check(capsys, ["backtest", "--data", "{d}", *args], message, absent, daily, tmp_path)


OPTIMIZE = [
    (["--summary-json", "{t}"], "is a folder", ["{t}/o.db"]),
    (["--summary-json", "{t}/nodir/s.json"], "does not exist", ["{t}/o.db", "{t}/nodir"]),
    (["--storage", "journal://{f}"], "is not an Optuna journal", []),
    (["--storage", "sqlite:///{f}"], "cannot open SQLite storage", []),
    (["--timeout", "nan"], "--timeout", ["{t}/o.db"]),
    (["--study-name", ""], "--study-name", ["{t}/o.db"]),
    (["--n-trials", "nan"], "--n-trials", ["{t}/o.db"]),
    (["--seed", "-1"], "--seed must be at least 0", ["{t}/o.db"]),
    (["--fee", "inf"], "--fee", ["{t}/o.db"]),
    (["--nan-penalty", "nan"], "--nan-penalty", ["{t}/o.db"]),
    (["--heartbeat-grace", "0"], "--heartbeat-grace", ["{t}/o.db"]),
    (["--storage-url-e", "X"], "unrecognized arguments: --storage-url-e", ["{t}/o.db"]),
    (["--n-tri", "3"], "unrecognized arguments: --n-tri", ["{t}/o.db"]),
]


@pytest.mark.parametrize(("args", "message", "absent"), OPTIMIZE)
def test_optimize(capsys, daily, tmp_path, args, message, absent):
    storage = [] if any(a.startswith("--storage") for a in args) else ["--storage", "sqlite:///{t}/o.db"]
    base = ["optimize", "--data", "{d}", "--start", "2022-01-01", "--end", "2022-12-31",
            "--n-trials", "1", "--no-progress", *storage]  # fmt: skip
    _check(capsys, [*base, *args], message, absent, daily, tmp_path)


GRID = [
    (["--reports-dir", "{f}"], "is a file", ["{t}/studies"]),
    (["--reports-dir", "{f}/sub"], "is a file", ["{t}/studies"]),
    (["--studies-dir", "{f}"], "is a file", ["{t}/reports"]),
    (["--crossover-prob", "2"], "--crossover-prob must be in [0, 1]", []),
    (["--slippage-bps", "-1"], "--slippage-bps", []),
]


@pytest.mark.parametrize(("args", "message", "absent"), GRID)
def test_optimize_grid(capsys, daily, tmp_path, args, message, absent, monkeypatch):
    monkeypatch.chdir(tmp_path)
    base = ["optimize", "--data", "{d}", "--symbol", "BTCUSDT", "--timeframe-grid", "1m@15m",
            "--n-trials", "1", "--no-progress"]  # fmt: skip
    _check(capsys, [*base, *args], message, absent, daily, tmp_path)


DATA = [
    (["generate", "--seed", "-1", "--out", "{t}/g"], "--seed must be at least 0", ["{t}/g"]),
    (["generate", "--out", "{f}"], "is a file", []),
    (["generate", "--tickers", "0", "--out", "{t}/g"], "--tickers must be at least 1", ["{t}/g"]),
    (["generate", "--days", "x", "--out", "{t}/g"], "expected an integer", ["{t}/g"]),
    (["sequences", "--out", "{t}"], "is a folder", ["{t}.tmp"]),
    (["sequences", "--out", "{t}/nodir/s.h5"], "does not exist", ["{t}/nodir"]),
    (["sequences", "--samples", "4096", "--seq-len", "1104", "--features", "256",
      "--out", "{t}/big.h5"], "above the 2.00 GB limit", ["{t}/big.h5", "{t}/big.h5.tmp"]),  # fmt: skip
    (["sequences", "--samples", "0", "--out", "{t}/s.h5"], "--samples", ["{t}/s.h5"]),
    (["info", "{f}"], "does not exist", []),
]


@pytest.mark.parametrize(("args", "message", "absent"), DATA)
def test_data(capsys, daily, tmp_path, args, message, absent):
    _check(capsys, ["data", *args], message, absent, daily, tmp_path)


CSV_ROWS = [
    ("2024-01-02,A,1,1,1,inf,10", "line 3: close inf is not a finite number"),
    ("2024-01-02,A,1,1,1,1,-3", "line 3: negative volume -3"),
    ("2024-01-02,A,1,0.5,2,1,10", "line 3: high 0.5 below low 2"),
    ("2024-01-02,,1,1,1,1,10", "line 3: empty ticker"),
]


@pytest.mark.parametrize(("row", "message"), CSV_ROWS)
def test_data_import_csv(capsys, daily, tmp_path, row, message):
    csv = tmp_path / "bars.csv"
    csv.write_text(f"date,ticker,open,high,low,close,volume\n2024-01-01,B,1,2,1,1,5\n{row}\n")
    err = _check(capsys, ["data", "import-csv", str(csv), "--out", "{t}/imp"], message,
                 ["{t}/imp"], daily, tmp_path)  # fmt: skip
    assert str(csv) in err  # the file, the line and the value


TRAIN = [
    (["--lr", "nan"], "--lr"),
    (["--lr", "0"], "--lr must be a finite number > 0"),
    (["--hidden", "0"], "--hidden must be at least 1"),
    (["--layers", "0"], "--layers must be at least 1"),
    (["--clip-norm", "-1"], "--clip-norm must be a finite number >= 0"),
    (["--torch-threads", "0"], "--torch-threads must be at least 1"),
    (["--json", "{t}/nodir/r.json"], "does not exist"),
]


@pytest.mark.parametrize(("args", "message"), TRAIN)
def test_train(capsys, daily, tmp_path, args, message):
    _check(capsys, ["train", "--data", "{t}/seq.h5", *args], message, [], daily, tmp_path)


SELFPLAY = [
    (["--blocks", "-1"], "--blocks must be at least 0"),
    (["--worker-timeout", "0"], "--worker-timeout must be a finite number > 0"),
    (["--worker-timeout", "nan"], "--worker-timeout"),
    (["--games", "0"], "--games must be at least 1"),
    (["--out", "{f}"], "is a file"),
]


@pytest.mark.parametrize(("args", "message"), SELFPLAY)
def test_selfplay(capsys, daily, tmp_path, args, message):
    _check(capsys, ["selfplay", *args], message, [], daily, tmp_path)


HARNESS = [
    (["matrix", "--cell-timeout", "nan"], "--cell-timeout", []),
    (["matrix", "--repeats", "0"], "--repeats must be at least 1", []),
    (["matrix", "--out", "{f}"], "is a file", []),
    (["sweep", "--cell-timeout", "-1", "--axis", "n=1", "--", "true", "{{n}}"], "--cell-timeout", []),
    (["report", "{j}"], "not an object", ["{t}/REPORT.md"]),
    (["report", "{j}", "--out", "{t}/rep"], "not an object", ["{t}/rep"]),
]


@pytest.mark.parametrize(("args", "message", "absent"), HARNESS)
def test_matrix_sweep_report(capsys, daily, tmp_path, args, message, absent, monkeypatch):
    monkeypatch.chdir(tmp_path)
    _check(capsys, args, message, [*absent, "{t}/runs"], daily, tmp_path)


def test_matrix_resume_on_lines_of_the_wrong_shape(capsys, daily, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    out = tmp_path / "run"
    out.mkdir()
    (out / "results.jsonl").write_text(json.dumps({"schema": 2, "kind": "cell"}) + "\n")
    _check(capsys, ["matrix", "--out", str(out), "--resume"], "field 'cell_id' is missing",
           ["{t}/run/REPORT.md", "{t}/run/cells"], daily, tmp_path)  # fmt: skip


PROFILE = [
    (["--rate", "0", "--", "true"], "--rate"),
    (["--timeout", "nan", "--", "true"], "--timeout"),
]


@pytest.mark.parametrize(("args", "message"), PROFILE)
def test_profile(capsys, daily, tmp_path, args, message):
    _check(capsys, ["profile", "--out", "{t}/p", *args], message, ["{t}/p"], daily, tmp_path)
