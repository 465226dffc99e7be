"""The training workload for the harness: one cell = one training run on generated data.

Default sizes (4096 samples x 128 steps x 16 features, 2 epochs) make a CPU cell take
a few seconds; `samples`, `seq_len`, `features` and `epochs` scale it (seq_len 1104 is
the source's full multi-timeframe layout). Importing this module imports no torch;
`run` does.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar

from perfopt.machine import cuda_present, logical_cores, resolved_device
from perfopt.workload import Measurement, Workload


def dataset_path(params: Mapping[str, Any], cache_dir: Path) -> Path:
    """Where the cell's generated dataset lives in the cache."""
    p = params
    return Path(cache_dir) / (
        f"sequences_{p['samples']}x{p['seq_len']}x{p['features']}_h{p['horizon']}_s{p['data_seed']}.h5"
    )


class TrainWorkload(Workload):
    """LSTM training on an HDF5 sequence file: per-sample vs chunk loader, AMP, compile."""

    name: ClassVar[str] = "train"
    # torch.optim imports torch._dynamo at the first step: no part of an epoch
    preload: ClassVar[tuple[str, ...]] = ("torch", "torch._dynamo", "perfopt.train.loop")
    axes: ClassVar[Mapping[str, list[Any]]] = {
        "loader": ["per-sample", "chunk"],
        "amp": [False, True],
        "batch_size": [32, 64, 128, 256, 512],
        "num_workers": [0, 1, 2, 4],
        "device": ["cpu", "cuda", "auto"],
        "compile": [False, True],
        "accumulate": [1, 2, 4],
        "checkpointing": [False, True],
        "samples": [1024, 2048, 4096, 10240, 51779],
        "seq_len": [32, 64, 128, 360, 1104],
        "features": [8, 16, 32, 128, 167],
        "horizon": [1, 36],
        "epochs": [1, 2, 3, 5],
        "hidden": [32, 64, 128],
        "data_seed": [0, 1, 2],
        "torch_threads": [1, 2, 4],
    }
    problem_axes: ClassVar[Mapping[str, str]] = {
        "samples": "a different dataset",
        "seq_len": "a different dataset",
        "features": "a different dataset",
        "horizon": "a different target",
        "data_seed": "a different dataset",
        "epochs": "a different amount of training",
        "hidden": "a different model",
        "batch_size": "different training dynamics",
        "accumulate": "a different effective batch",
    }
    defaults: ClassVar[Mapping[str, Any]] = {
        "loader": "chunk",
        "amp": False,
        "batch_size": 128,
        "num_workers": 0,
        "device": "auto",
        "compile": False,
        "accumulate": 1,
        "checkpointing": False,
        "samples": 4096,
        "seq_len": 128,
        "features": 16,
        "horizon": 1,
        "epochs": 2,
        "hidden": 64,
        "data_seed": 0,
        # One thread: two made an LSTM step 4x slower on a busy 2-core machine (measured).
        "torch_threads": 1,
    }

    def skip_reason(self, params: Mapping[str, Any]) -> str | None:
        """Refuse combinations that cannot run or would measure nothing meaningful."""
        p = {**self.defaults, **params}
        device = resolved_device(p["device"])
        cores = logical_cores()
        if device == "cuda" and not cuda_present():
            return "device=cuda: no CUDA GPU on this machine"
        if p["loader"] == "chunk" and p["num_workers"] > 0:
            return "num_workers applies to the per-sample loader; the chunk loader reads in the main process"
        if p["num_workers"] + p["torch_threads"] > cores:
            return (
                f"{p['num_workers']} loader worker(s) plus {p['torch_threads']} training thread(s) "
                f"exceed {cores} cores (oversubscription)"
            )
        # amp on CPU runs (bfloat16 autocast, float32 LSTM where oneDNN refuses it): its
        # speed depends on the CPU's bf16 units, so it is measured, not assumed.
        return None

    def prepare(self, params: Mapping[str, Any], cache_dir: Path) -> None:
        """Generate the cell's dataset into cache_dir unless it is already there."""
        from perfopt.train.sequences import write_sequences

        p = {**self.defaults, **params}
        path = dataset_path(p, cache_dir)
        if not path.exists():
            write_sequences(
                path, p["samples"], p["seq_len"], p["features"], p["horizon"], p["data_seed"]
            )

    def run(self, params: Mapping[str, Any], cache_dir: Path, workdir: Path) -> Measurement:
        """Train for the cell's epochs and report epoch time, data wait and memory."""
        from perfopt.train.loop import TrainConfig, train

        p = {**self.defaults, **params}
        self.prepare(p, cache_dir)
        cfg = TrainConfig(
            data=dataset_path(p, cache_dir),
            loader=p["loader"],
            device=p["device"],
            amp=bool(p["amp"]),
            batch_size=int(p["batch_size"]),
            epochs=int(p["epochs"]),
            num_workers=int(p["num_workers"]),
            accumulate=int(p["accumulate"]),
            compile=bool(p["compile"]),
            checkpointing=bool(p["checkpointing"]),
            hidden=int(p["hidden"]),
            torch_threads=int(p["torch_threads"]),
        )
        result = train(cfg)
        metrics = result.metrics()
        details = result.to_dict()
        info = {
            "device": result.device,
            "amp_mode": result.amp_mode,
            "amp_note": result.amp_note,
            "loader": result.loader_info,
            "first_step_s": result.first_step_s,
            "epochs": details["epochs"],
            "leak_warnings": result.leak_warnings,
        }
        return Measurement(
            seconds=sum(e.seconds for e in result.epochs),
            stages={
                "data_wait": sum(e.data_wait_s for e in result.epochs),
                "compute": sum(e.compute_s for e in result.epochs),
            },
            metrics=metrics,
            info=info,
        )
