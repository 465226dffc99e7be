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
import gc
import logging
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import psutil
import torch
from torch import nn

from perfopt.errors import UserError
from perfopt.train.advice import batch_size_advice
from perfopt.train.gpu import device_memory
from perfopt.train.loaders import ChunkDataLoader, per_sample_loader
from perfopt.train.model import SequenceRegressor, cpu_bf16_lstm_error
from perfopt.train.sequences import validate_sequences
from perfopt.units import fmt_bytes, fmt_count, fmt_duration, fmt_pct, fmt_rate

log = logging.getLogger(__name__)
LOADERS = ("per-sample", "chunk")
DEVICES = ("auto", "cpu", "cuda")


@dataclass
class TrainConfig:
    """Everything one training run needs; see `perfopt train --help` for each field."""

    data: Path
    loader: str = "chunk"
    device: str = "auto"
    amp: bool = False
    batch_size: int = 128
    epochs: int = 1
    num_workers: int = 0
    chunk_size_gb: float | None = None
    accumulate: int = 1
    compile: bool = False
    lr: float = 1e-3
    clip_norm: float | None = 1.0
    checkpointing: bool = False
    hidden: int = 64
    layers: int = 1
    drop_last: bool = False
    shuffle_within_chunk: bool = False
    seed: int = 0
    log_every: int = 100
    leak_threshold_mb: float = 100.0
    torch_threads: int | None = None
    worker_start_method: str | None = None
    prefetch_factor: int | None = None  # batches each DataLoader worker reads ahead
    persistent_workers: bool = False  # keep DataLoader workers alive between epochs
    carry_state: bool = False  # start each batch's LSTM from the previous batch's final state


# progress(epoch (0-based), batches done in the epoch, batches per epoch)
ProgressFn = Callable[[int, int, int], None]


@dataclass
class EpochStats:
    """Timing and loss of one epoch."""

    seconds: float
    samples: int
    batches: int
    optimizer_steps: int
    data_wait_s: float
    compute_s: float
    mean_loss: float
    losses: list[float] = field(default_factory=list)


@dataclass
class TrainResult:
    """What a training run measured."""

    device: str
    amp_mode: str
    amp_note: str | None
    epochs: list[EpochStats]
    peak_host_bytes: int
    peak_device_bytes: int
    first_step_s: float
    leak_warnings: list[str]
    memory_log: list[dict[str, float]]
    loader_info: dict[str, Any]
    batch_advice: str = ""  # the batch size the device's memory allows, or why none is given
    scaler: dict[str, float] | None = None  # GradScaler state after the run (CUDA AMP)
    grad_norm_max: float = 0.0  # largest gradient norm before clipping (after unscaling)
    model: Any = field(default=None, repr=False)  # the trained module (left out of to_dict)

    def metrics(self) -> dict[str, float]:
        """The workload metrics: mean epoch figures and peak memory."""
        n = len(self.epochs)
        secs = sum(e.seconds for e in self.epochs)
        return {
            "epoch_s": secs / n,
            "samples_per_s": sum(e.samples for e in self.epochs) / secs if secs > 0 else 0.0,
            "data_wait_s": sum(e.data_wait_s for e in self.epochs) / n,
            "compute_s": sum(e.compute_s for e in self.epochs) / n,
            "peak_host_bytes": float(self.peak_host_bytes),
            "peak_device_bytes": float(self.peak_device_bytes),
        }

    def report(self) -> str:
        """Human-readable summary, one line per epoch and the totals."""
        m = self.metrics()
        lines = [
            f"device {self.device}, amp {self.amp_mode}, {loader_text(self.loader_info)}",
        ]
        if self.amp_note:
            lines.append(f"note: {self.amp_note}")
        for i, e in enumerate(self.epochs, 1):
            lines.append(
                f"epoch {i}: {fmt_duration(e.seconds)}, {fmt_count(e.samples)} samples, "
                f"{fmt_count(e.optimizer_steps)} steps, data wait {fmt_duration(e.data_wait_s)} "
                f"({fmt_pct(e.data_wait_s / e.seconds if e.seconds else None)}), compute "
                f"{fmt_duration(e.compute_s)}, loss {e.mean_loss:.5f}"
            )
        peak_device = (
            fmt_bytes(self.peak_device_bytes) if self.device.startswith("cuda") else "- (CPU run)"
        )
        lines.append(
            f"mean epoch {fmt_duration(m['epoch_s'])}, {fmt_rate(m['samples_per_s'], 'samples/s')}, "
            f"first step {fmt_duration(self.first_step_s)}, peak host {fmt_bytes(self.peak_host_bytes)}, "
            f"peak device {peak_device}"
        )
        if self.batch_advice:
            lines.append(f"batch size: {self.batch_advice}")
        lines.extend(f"warning: {w}" for w in self.leak_warnings)
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        """JSON-serializable form (per-batch losses left out)."""
        d = asdict(replace(self, model=None))
        d.pop("model")
        for e in d["epochs"]:
            e.pop("losses")
        d["metrics"] = self.metrics()
        return d


def resolve_device(name: str) -> torch.device:
    """Map auto/cpu/cuda to a device; refuse cuda without CUDA."""
    if name not in DEVICES:
        raise UserError(f"--device must be one of {', '.join(DEVICES)} (got {name!r})")
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise UserError(
            "--device cuda: CUDA is not available on this machine (torch sees no GPU); use --device cpu or auto"
        )
    return torch.device(name)


def check_config(cfg: TrainConfig) -> None:
    """Refuse bad values before any work starts."""
    if cfg.loader not in LOADERS:
        raise UserError(f"--loader must be one of {', '.join(LOADERS)} (got {cfg.loader!r})")
    for name, value, low in (
        ("batch-size", cfg.batch_size, 1),
        ("epochs", cfg.epochs, 1),
        ("accumulate", cfg.accumulate, 1),
        ("num-workers", cfg.num_workers, 0),
        ("log-every", cfg.log_every, 1),
    ):
        if value < low:
            raise UserError(f"--{name} must be at least {low} (got {value})")
    if cfg.lr <= 0:
        raise UserError(f"--lr must be positive (got {cfg.lr})")
    if cfg.num_workers and cfg.loader == "chunk":
        raise UserError(
            "--num-workers applies to the per-sample loader only; the chunk loader reads in the main process"
        )
    if (cfg.prefetch_factor is not None or cfg.persistent_workers) and (
        cfg.loader != "per-sample" or cfg.num_workers == 0
    ):
        raise UserError(
            "--prefetch-factor and --persistent-workers apply to DataLoader workers: use them "
            "with --loader per-sample --num-workers N (N >= 1)"
        )
    if cfg.prefetch_factor is not None and cfg.prefetch_factor < 1:
        raise UserError(f"--prefetch-factor must be at least 1 (got {cfg.prefetch_factor})")
    if cfg.carry_state and cfg.shuffle_within_chunk:
        raise UserError(
            "--carry-state needs batches in file order (sample i of a batch continues sample i "
            "of the previous one); drop --shuffle-within-chunk"
        )
    if cfg.carry_state and cfg.compile:
        raise UserError("--carry-state is not offered with --compile; drop one of them")
    if cfg.worker_start_method not in (None, "spawn", "fork", "forkserver"):
        raise UserError(
            f"unknown start method {cfg.worker_start_method!r}; use spawn, fork or forkserver"
        )


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


def _device_bytes(device: torch.device) -> int:
    return int(torch.cuda.memory_allocated(device)) if device.type == "cuda" else 0


def loader_text(info: dict[str, Any]) -> str:
    """The loader settings in words (the dict stays in the JSON result)."""
    if info.get("loader") == "chunk":
        text = (
            f"chunk loader: {fmt_count(info['chunks'])} chunk(s) of up to "
            f"{fmt_count(info['samples_per_chunk'])} samples ({fmt_bytes(info['chunk_size_gb'] * 2**30)} "
            "allowed per chunk)"
        )
    else:
        workers = info.get("num_workers", 0)
        text = "per-sample loader, " + (
            f"{workers} worker process(es)" if workers else "read in the main process"
        )
        if info.get("prefetch_factor"):
            text += f", prefetch {info['prefetch_factor']} batches per worker"
        if info.get("persistent_workers"):
            text += ", persistent workers"
        if info.get("pin_memory"):
            text += ", pinned memory"
    if "torch_threads" in info:
        text += f"; torch threads {info['torch_threads']}"
    if info.get("carry_state"):
        text += "; hidden state carried across batches"
    return text


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
        wait = compute = 0.0
        samples = batches = steps = pending = 0
        losses: list[torch.Tensor] = []
        state: tuple[torch.Tensor, torch.Tensor] | None = None  # --carry-state only
        t_epoch = time.perf_counter()
        it = iter(loader)
        while True:
            t0 = time.perf_counter()
            try:
                x, y = next(it)
            except StopIteration:
                break
            x = x.to(device, non_blocking=True)
            y = y.to(device, non_blocking=True)
            t1 = time.perf_counter()
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
            t2 = time.perf_counter()
            if batch_no == 0:
                first_step_s = t2 - t1  # includes torch.compile's first compile
            wait += t1 - t0
            compute += t2 - t1
            losses.append(loss.detach())
            samples += x.shape[0]
            batches += 1
            batch_no += 1
            if progress is not None:
                progress(epoch, batches, batches_per_epoch)
            peak_host = max(peak_host, proc.memory_info().rss)
            if batch_no % cfg.log_every == 0:
                entry = _memory_entry(batch_no, device, proc)
                memory_log.append(entry)
                log.info("batch %d: %s", batch_no, _memory_text(entry))
        if pending:  # a last partial accumulation still updates the weights
            t1 = time.perf_counter()
            optimizer_step()
            steps += 1
            sync()
            compute += time.perf_counter() - t1
        seconds = time.perf_counter() - t_epoch
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
        leaks.extend(_leak_check(epoch, device, proc, cfg.leak_threshold_mb, baseline))
        if baseline is None:
            baseline = _device_bytes(device) if device.type == "cuda" else proc.memory_info().rss
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


def _memory_entry(batch: int, device: torch.device, proc: psutil.Process) -> dict[str, Any]:
    """Host RSS plus the device's allocated / reserved / total memory and utilization."""
    mem = device_memory(device)
    return {
        "batch": batch,
        "host_rss": proc.memory_info().rss,
        "device_allocated": mem.allocated_bytes or 0,
        "device_reserved": mem.reserved_bytes,
        "device_total": mem.total_bytes,
        "gpu_utilization_pct": mem.utilization_pct,
    }


def _memory_text(entry: dict[str, Any]) -> str:
    text = f"host rss {entry['host_rss'] / 2**20:.1f} MiB"
    if entry["device_total"]:
        text += (
            f", device allocated {entry['device_allocated'] / 2**20:.1f} MiB, reserved "
            f"{(entry['device_reserved'] or 0) / 2**20:.1f} MiB of {entry['device_total'] / 2**30:.1f} GiB"
        )
    if entry["gpu_utilization_pct"] is not None:
        text += f", GPU {entry['gpu_utilization_pct']:.0f}% busy"
    return text


def _scaler_state(scaler: Any) -> dict[str, float] | None:
    """The GradScaler's scale and growth tracker (steps since the last overflow)."""
    if scaler is None:
        return None
    state = scaler.state_dict()
    return {"scale": float(state["scale"]), "growth_tracker": float(state["_growth_tracker"])}


def _leak_check(
    epoch: int,
    device: torch.device,
    proc: psutil.Process,
    threshold_mb: float,
    baseline: int | None,
) -> list[str]:
    """Warn when memory after an epoch exceeds the first epoch's by more than threshold_mb."""
    gc.collect()
    if device.type == "cuda":
        torch.cuda.empty_cache()
    if baseline is None:  # the first epoch allocates optimizer state: it is the baseline
        return []
    now = _device_bytes(device) if device.type == "cuda" else proc.memory_info().rss
    grown = (now - baseline) / 2**20
    if grown > threshold_mb:
        msg = f"possible memory leak: {'device' if device.type == 'cuda' else 'host'} memory grew {grown:.1f} MiB since epoch 1 (epoch {epoch + 1})"
        log.warning(msg)
        return [msg]
    return []
