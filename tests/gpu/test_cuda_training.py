"""The CUDA paths of training: the chunk loader in device memory, float16 AMP, memory log."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")

from perfopt.train.loaders import ChunkDataLoader, per_sample_loader  # noqa: E402
from perfopt.train.loop import TrainConfig, train  # noqa: E402
from perfopt.train.sequences import validate_sequences  # noqa: E402


def test_chunk_loader_on_cuda_gives_the_per_sample_batches(cuda, seq_file: Path) -> None:
    info = validate_sequences(seq_file)
    loader = ChunkDataLoader(seq_file, 64, 300 * info.bytes_per_sample / 2**30, cuda)
    chunk_bytes = loader.samples_per_chunk * info.bytes_per_sample
    assert len(loader.chunk_ranges) >= 5
    reference = per_sample_loader(seq_file, 64)
    torch.cuda.synchronize()
    torch.cuda.empty_cache()
    torch.cuda.reset_peak_memory_stats()
    before = torch.cuda.memory_allocated()
    n = 0
    for (x, y), (rx, ry) in zip(loader, reference, strict=True):
        assert x.device.type == "cuda" and y.device.type == "cuda"
        assert torch.equal(x.cpu(), rx) and torch.equal(y.cpu(), ry)
        n += 1
    del x, y
    assert n == len(loader)
    # pinned host buffers, non-blocking copies, every chunk read once
    assert loader.stats["pinned"] is True and loader.stats["non_blocking"] is True
    assert loader.stats["chunks"] == len(loader.chunk_ranges)
    assert len(loader.stats["device_allocated_between_chunks"]) == len(loader.chunk_ranges)
    # chunks do not pile up: at most the chunk being read and the one the last batch
    # still points into (allocator rounding aside), and nothing once the epoch is over
    peak = torch.cuda.max_memory_allocated() - before
    assert peak <= 2 * chunk_bytes + 2**20, (peak, chunk_bytes)
    assert torch.cuda.memory_allocated() - before < 2**20


def test_float16_autocast_with_gradscaler(cuda, seq_file: Path) -> None:
    r = train(TrainConfig(data=seq_file, device="cuda", amp=True, epochs=2, batch_size=64))
    assert r.device.startswith("cuda") and r.amp_mode == "cuda-fp16"
    losses = [v for e in r.epochs for v in e.losses]
    assert losses and all(math.isfinite(v) for v in losses)
    assert r.epochs[-1].mean_loss < r.epochs[0].losses[0]  # it learns
    steps = sum(e.optimizer_steps for e in r.epochs)
    # the scaler advanced: steps without overflow counted, or the scale backed off
    assert r.scaler is not None
    assert r.scaler["growth_tracker"] > 0 or r.scaler["scale"] < 65536.0
    assert r.scaler["growth_tracker"] <= steps
    # clipping sees unscaled gradients: a scaled norm would be ~65536x larger
    assert 0.0 < r.grad_norm_max < 1e3


def test_memory_log_and_leak_check_on_cuda(cuda, seq_file: Path) -> None:
    r = train(TrainConfig(data=seq_file, device="cuda", epochs=2, batch_size=64, log_every=5))
    assert r.memory_log
    for e in r.memory_log:
        assert e["device_allocated"] > 0
        assert e["device_reserved"] >= e["device_allocated"]
        assert e["device_total"] > e["device_reserved"]
    # utilization from NVML where nvidia-ml-py works, else None (never a made-up 0)
    for e in r.memory_log:
        util = e["gpu_utilization_pct"]
        assert util is None or 0.0 <= util <= 100.0
    assert r.peak_device_bytes > 0 and r.leak_warnings == []
    leaky = train(
        TrainConfig(data=seq_file, device="cuda", epochs=2, batch_size=64, leak_threshold_mb=-1e9)
    )
    assert len(leaky.leak_warnings) == 1 and "device memory grew" in leaky.leak_warnings[0]


def test_the_train_workload_runs_on_cuda(cuda, tmp_path: Path) -> None:
    from perfopt.train.workload import TrainWorkload

    w = TrainWorkload()
    params = {"device": "cuda", "samples": 1024, "seq_len": 16, "features": 8, "epochs": 1}
    assert w.skip_reason(params) is None
    w.prepare(params, tmp_path)
    m = w.run(params, tmp_path, tmp_path / "work")
    assert m.info["device"].startswith("cuda") and m.metrics["epoch_s"] > 0
    assert m.metrics["peak_device_bytes"] > 0
