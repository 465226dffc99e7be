"""The training loop: loader choice, AMP, accumulation, clipping, timing and memory.

AMP policy (decided here, reported in every result):

- CUDA: float16 autocast plus a GradScaler ("cuda-fp16").
- CPU: bfloat16 autocast, no scaler. On CPUs whose oneDNN has no bfloat16 LSTM
  (this machine: "could not create a primitive descriptor for the LSTM forward
  propagation primitive") the LSTM runs in float32 and only the head in bfloat16
  ("cpu-bf16-head-only"), with the error kept in `amp_note`; the run never crashes.

Timing: `data_wait_s` is time spent waiting for the next batch (chunk reads included),
`compute_s` the forward, backward and optimizer step; on CUDA each step is
synchronized so the split is honest (at the cost of some overlap).
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable
from typing import Any

import psutil
import torch
from torch import nn

from perfopt.stage_timer import StageTimer
from perfopt.train.advice import batch_size_advice
from perfopt.train.config import TrainConfig, check_config, resolve_device
from perfopt.train.loaders import ChunkDataLoader, per_sample_loader
from perfopt.train.memory import device_bytes, leak_check, memory_entry, memory_text
from perfopt.train.model import SequenceRegressor, cpu_bf16_lstm_error
from perfopt.train.result import EpochStats, TrainResult
from perfopt.train.sequences import validate_sequences

log = logging.getLogger(__name__)


# progress(epoch (0-based), batches done in the epoch, batches per epoch)
ProgressFn = Callable[[int, int, int], None]


def amp_policy(device: torch.device, amp: bool) -> tuple[str, str | None]:
    """Return (amp_mode, note) for a device; see the module docstring."""
    if not amp:
        return "off", None
    if device.type == "cuda":
        return "cuda-fp16", None
    err = cpu_bf16_lstm_error()
    if err is None:
        return "cpu-bf16", "CPU bfloat16 autocast; speed depends on bf16 hardware support"
    return (
        "cpu-bf16-head-only",
        f"amp unsupported on CPU for LSTM (oneDNN: {err}); LSTM ran in float32, head in bfloat16",
    )


def train(cfg: TrainConfig, progress: ProgressFn | None = None) -> TrainResult:
    """Train the sequence model on cfg.data and measure every epoch.

    `progress`, when given, is called after every batch (the CLI draws a bar with it).
    """
    check_config(cfg)
    device = resolve_device(cfg.device)
    info = validate_sequences(cfg.data)
    if cfg.torch_threads:
        torch.set_num_threads(cfg.torch_threads)
    amp_mode, amp_note = amp_policy(device, cfg.amp)
    if cfg.loader == "chunk":
        loader: Any = ChunkDataLoader(
            cfg.data,
            cfg.batch_size,
            cfg.chunk_size_gb,
            device,
            cfg.shuffle_within_chunk,
            cfg.drop_last,
            cfg.seed,
        )
        loader_info = {
            "loader": "chunk",
            "chunk_size_gb": loader.chunk_size_gb,
            "samples_per_chunk": loader.samples_per_chunk,
            "chunks": len(loader.chunk_ranges),
        }
    else:
        loader = per_sample_loader(
            cfg.data,
            cfg.batch_size,
            cfg.num_workers,
            device.type == "cuda",
            cfg.drop_last,
            cfg.worker_start_method,
            prefetch_factor=cfg.prefetch_factor,
            persistent_workers=cfg.persistent_workers,
        )
        loader_info = {
            "loader": "per-sample",
            "num_workers": cfg.num_workers,
            "pin_memory": device.type == "cuda",
            "prefetch_factor": cfg.prefetch_factor,
            "persistent_workers": cfg.persistent_workers,
        }
    loader_info["torch_threads"] = torch.get_num_threads()
    loader_info["carry_state"] = cfg.carry_state
    batches_per_epoch = len(loader)

    torch.manual_seed(cfg.seed)
    model: nn.Module = SequenceRegressor(
        info.features,
        info.horizon,
        cfg.hidden,
        cfg.layers,
        cfg.checkpointing,
        lstm_float32=amp_mode == "cpu-bf16-head-only",
    ).to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=cfg.lr)
    scaler = torch.amp.GradScaler("cuda") if amp_mode == "cuda-fp16" else None
    amp_dtype = torch.float16 if device.type == "cuda" else torch.bfloat16
    step_model: Any = torch.compile(model) if cfg.compile else model
    criterion = nn.MSELoss()
    proc = psutil.Process()
    peak_host = proc.memory_info().rss
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    epochs: list[EpochStats] = []
    memory_log: list[dict[str, float]] = []
    leaks: list[str] = []
    baseline: int | None = None
    first_step_s = 0.0
    batch_no = 0

    def sync() -> None:
        if device.type == "cuda":
            torch.cuda.synchronize(device)

    grad_norm_max = 0.0

    def optimizer_step() -> None:
        nonlocal grad_norm_max
        if scaler is not None:
            scaler.unscale_(optimizer)  # clip the true gradients, not the scaled ones
        if cfg.clip_norm:
            norm = nn.utils.clip_grad_norm_(model.parameters(), cfg.clip_norm)
            if torch.isfinite(norm):  # an overflow step: the scaler skips it
                grad_norm_max = max(grad_norm_max, float(norm))
        if scaler is not None:
            scaler.step(optimizer)
            scaler.update()
        else:
            optimizer.step()
        optimizer.zero_grad(set_to_none=True)

    model.train()
    for epoch in range(cfg.epochs):
        samples = batches = steps = pending = 0
        losses: list[torch.Tensor] = []
        state: tuple[torch.Tensor, torch.Tensor] | None = None  # --carry-state only
        # "epoch" holds everything; inside it "data_wait" is the wait for the next batch
        # (and its copy to the device), "compute" the forward, backward and step.
        timer = StageTimer()
        with timer.stage("epoch"):
            it = iter(loader)
            while True:
                with timer.stage("data_wait"):
                    batch = next(it, None)
                    if batch is not None:
                        x = batch[0].to(device, non_blocking=True)
                        y = batch[1].to(device, non_blocking=True)
                if batch is None:
                    break
                with timer.stage("compute"):
                    autocast = (
                        torch.autocast(device.type, dtype=amp_dtype)
                        if amp_mode != "off"
                        else contextlib.nullcontext()
                    )
                    with autocast:
                        if cfg.carry_state:
                            if state is not None and state[0].shape[1] != x.shape[0]:
                                state = None  # a short last batch: no previous sample to continue
                            pred, new_state = model.forward_with_state(x, state)
                            # truncated backpropagation: the values carry on, the graph does not
                            state = (new_state[0].detach(), new_state[1].detach())
                        else:
                            pred = step_model(x)
                        loss = criterion(pred.float(), y)
                    scaled = loss / cfg.accumulate
                    (scaler.scale(scaled) if scaler is not None else scaled).backward()
                    pending += 1
                    if pending == cfg.accumulate:
                        optimizer_step()
                        steps += 1
                        pending = 0
                    sync()
                if batch_no == 0:  # includes torch.compile's first compile
                    first_step_s = timer.as_dict()["epoch/compute"]
                losses.append(loss.detach())
                samples += x.shape[0]
                batches += 1
                batch_no += 1
                if progress is not None:
                    progress(epoch, batches, batches_per_epoch)
                peak_host = max(peak_host, proc.memory_info().rss)
                if batch_no % cfg.log_every == 0:
                    entry = memory_entry(batch_no, device, proc)
                    memory_log.append(entry)
                    log.info("batch %d: %s", batch_no, memory_text(entry))
            if pending:  # a last partial accumulation still updates the weights
                with timer.stage("compute"):
                    optimizer_step()
                    steps += 1
                    sync()
        stages = timer.as_dict()
        seconds = stages["epoch"]
        wait, compute = stages["epoch/data_wait"], stages.get("epoch/compute", 0.0)
        loss_values = [float(v) for v in torch.stack(losses).cpu()] if losses else []
        epochs.append(
            EpochStats(
                seconds,
                samples,
                batches,
                steps,
                wait,
                compute,
                sum(loss_values) / max(len(loss_values), 1),
                loss_values,
            )
        )
        log.info(
            "epoch %d: %.2fs, %d samples, wait %.2fs, compute %.2fs",
            epoch + 1,
            seconds,
            samples,
            wait,
            compute,
        )
        leaks.extend(leak_check(epoch, device, proc, cfg.leak_threshold_mb, baseline))
        if baseline is None:
            baseline = device_bytes(device) if device.type == "cuda" else proc.memory_info().rss
    peak_device = int(torch.cuda.max_memory_allocated(device)) if device.type == "cuda" else 0
    return TrainResult(
        str(device),
        amp_mode,
        amp_note,
        epochs,
        int(peak_host),
        peak_device,
        first_step_s,
        leaks,
        memory_log,
        loader_info,
        batch_advice=batch_size_advice(info, cfg, device, amp_mode).text,
        scaler=_scaler_state(scaler),
        grad_norm_max=grad_norm_max,
        model=model,
    )


def _scaler_state(scaler: Any) -> dict[str, float] | None:
    """The GradScaler's scale and growth tracker (steps since the last overflow)."""
    if scaler is None:
        return None
    state = scaler.state_dict()
    return {"scale": float(state["scale"]), "growth_tracker": float(state["_growth_tracker"])}
