"""`perfopt train`, the train workload, and the lazy-torch promise."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("torch")

from perfopt.cli import main  # noqa: E402
from perfopt.train.workload import TrainWorkload  # noqa: E402

METRIC_KEYS = {
    "epoch_s",
    "samples_per_s",
    "data_wait_s",
    "compute_s",
    "peak_host_bytes",
    "peak_device_bytes",
}


def test_help_and_workload_imports_do_not_import_torch() -> None:
    code = (
        "import sys, contextlib, io\n"
        "import perfopt.train.workload, perfopt.selfplay.workload, perfopt.train.sequences\n"
        "import perfopt.selfplay.worker\n"
        "from perfopt.cli import main\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n"
        "    try: main(['--help'])\n"
        "    except SystemExit: pass\n"
        "print('torch' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_cli_trains_and_writes_json(
    seq_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    out = tmp_path / "r.json"
    rc = main(
        [
            "train",
            "--data",
            str(seq_file),
            "--loader",
            "per-sample",
            "--batch-size",
            "64",
            "--hidden",
            "8",
            "--device",
            "cpu",
            "--json",
            str(out),
        ]
    )
    assert rc == 0
    assert "samples/s" in capsys.readouterr().out
    data = json.loads(out.read_text())
    assert set(data["metrics"]) == METRIC_KEYS and data["epochs"][0]["samples"] == 200


@pytest.mark.parametrize(
    "args",
    [
        ["--data", "missing.h5"],
        ["--batch-size", "0"],
        ["--chunk-size-gb", "100000"],
        ["--epochs", "0"],
    ],
)
def test_cli_bad_input_exits_2(
    seq_file: Path, args: list[str], capsys: pytest.CaptureFixture
) -> None:
    base = ["train", "--data", str(seq_file), "--device", "cpu"]
    assert main(base + args) == 2
    assert "perfopt: error:" in capsys.readouterr().err


def test_workload_skips_and_runs(tmp_path: Path) -> None:
    w = TrainWorkload()
    assert set(w.defaults) <= set(w.axes)
    assert w.skip_reason({"device": "cpu"}) is None
    assert "per-sample" in w.skip_reason({"loader": "chunk", "num_workers": 1})
    assert "cores" in w.skip_reason({"loader": "per-sample", "num_workers": 64})
    # AMP on a CPU is bfloat16 autocast: measured, not refused (its speed depends on the CPU)
    assert w.skip_reason({"device": "cpu", "amp": True}) is None
    params = {
        "device": "cpu",
        "samples": 1024,
        "seq_len": 32,
        "features": 8,
        "epochs": 1,
        "loader": "per-sample",
    }
    w.prepare(params, tmp_path)
    w.prepare(params, tmp_path)  # idempotent
    m = w.run(params, tmp_path, tmp_path / "work")
    assert set(m.metrics) == METRIC_KEYS
    assert m.metrics["data_wait_s"] > 0 and m.info["device"] == "cpu"
    assert m.seconds > 0 and set(m.stages) == {"data_wait", "compute"}
