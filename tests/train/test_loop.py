"""The training loop: loader equivalence, AMP on CPU, accumulation, checkpointing, memory checks."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")

from perfopt.errors import UserError  # noqa: E402
from perfopt.train.loop import TrainConfig, train  # noqa: E402
from perfopt.train.sequences import write_sequences  # noqa: E402

METRIC_KEYS = {
    "epoch_s",
    "samples_per_s",
    "data_wait_s",
    "compute_s",
    "peak_host_bytes",
    "peak_device_bytes",
}


def _cfg(path: Path, **kw) -> TrainConfig:
    return TrainConfig(data=path, device="cpu", batch_size=32, hidden=8, **kw)


def test_same_losses_for_one_seeded_epoch_with_either_loader(seq_file: Path) -> None:
    a = train(_cfg(seq_file, loader="per-sample"))
    b = train(_cfg(seq_file, loader="chunk", chunk_size_gb=64 * 200 / 1024**3))
    assert a.epochs[0].losses == b.epochs[0].losses
    assert len(a.epochs[0].losses) == 7 and a.epochs[0].samples == 200
    assert set(a.metrics()) == METRIC_KEYS
    assert b.loader_info["chunks"] > 1
    for p, q in zip(a.model.parameters(), b.model.parameters(), strict=True):
        assert torch.equal(p, q)


def test_amp_on_cpu_runs_and_says_what_it_did(seq_file: Path) -> None:
    r = train(_cfg(seq_file, amp=True, epochs=2))
    assert r.amp_mode in ("cpu-bf16", "cpu-bf16-head-only")
    assert all(torch.isfinite(torch.tensor(e.losses)).all() for e in r.epochs)
    if r.amp_mode == "cpu-bf16-head-only":
        assert "amp unsupported on CPU for LSTM" in r.amp_note
    off = train(_cfg(seq_file))
    assert off.amp_mode == "off" and off.amp_note is None
    assert r.epochs[0].losses != off.epochs[0].losses  # the head really ran in bfloat16


def test_gradient_accumulation_matches_a_bigger_batch(tmp_path: Path) -> None:
    data = write_sequences(tmp_path / "s.h5", 192, 12, 4, horizon=2, seed=3)  # whole batches only
    small = train(dataclasses.replace(_cfg(data, accumulate=4), batch_size=8))
    big = train(dataclasses.replace(_cfg(data), batch_size=32))
    assert small.epochs[0].optimizer_steps == big.epochs[0].optimizer_steps == 6
    for p, q in zip(small.model.parameters(), big.model.parameters(), strict=True):
        torch.testing.assert_close(p, q, rtol=1e-4, atol=1e-5)
    unequal = train(dataclasses.replace(_cfg(data), batch_size=8))
    assert not all(
        torch.allclose(p, q)
        for p, q in zip(unequal.model.parameters(), big.model.parameters(), strict=True)
    )


def test_partial_accumulation_at_epoch_end_still_steps(seq_file: Path) -> None:
    r = train(_cfg(seq_file, accumulate=3))  # 7 batches: steps after 3, 6 and the leftover 1
    assert r.epochs[0].optimizer_steps == 3


def test_activation_checkpointing_changes_memory_not_results(seq_file: Path) -> None:
    a = train(_cfg(seq_file, checkpointing=True))
    b = train(_cfg(seq_file))
    torch.testing.assert_close(torch.tensor(a.epochs[0].losses), torch.tensor(b.epochs[0].losses))


def test_memory_log_and_leak_warning(seq_file: Path) -> None:
    r = train(_cfg(seq_file, epochs=3, log_every=2))
    assert [e["batch"] for e in r.memory_log] == list(range(2, 22, 2))
    # on a CPU the device figures say "not measured", never zero memory of a GPU
    assert {e["device_total"] for e in r.memory_log} == {None}
    assert r.scaler is None  # no CUDA AMP, no GradScaler
    assert r.leak_warnings == []  # nothing grows by 100 MiB over three tiny epochs
    # A negative threshold makes any epoch after the first count as growth: the warning path.
    leaky = train(_cfg(seq_file, epochs=2, leak_threshold_mb=-1e9))
    assert len(leaky.leak_warnings) == 1 and "possible memory leak" in leaky.leak_warnings[0]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"batch_size": 0}, "--batch-size"),
        ({"loader": "mmap"}, "--loader"),
        ({"accumulate": 0}, "--accumulate"),
        ({"num_workers": 2, "loader": "chunk"}, "per-sample loader only"),
        ({"worker_start_method": "vfork"}, "unknown start method"),
        ({"device": "tpu"}, "--device"),
    ],
)
def test_bad_config_is_refused(seq_file: Path, change: dict, message: str) -> None:
    with pytest.raises(UserError, match=message):
        train(dataclasses.replace(_cfg(seq_file), **change))


@pytest.mark.skipif(
    torch.cuda.is_available(), reason="checks the refusal on a machine without CUDA"
)
def test_cuda_without_cuda_is_refused(seq_file: Path) -> None:
    with pytest.raises(UserError, match="CUDA is not available"):
        train(dataclasses.replace(_cfg(seq_file), device="cuda"))
