"""Training settings (`TrainConfig`), checked before any work starts, and the device choice."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch

from perfopt.errors import UserError
from perfopt.machine import START_METHODS

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
    if cfg.worker_start_method is not None and cfg.worker_start_method not in START_METHODS:
        raise UserError(
            f"unknown start method {cfg.worker_start_method!r}; use spawn, fork or forkserver"
        )
