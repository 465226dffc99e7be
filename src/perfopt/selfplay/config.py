"""Self-play settings (`SelfplayConfig`), checked before any work starts, and the worker error."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from perfopt.errors import PerfoptError, UserError
from perfopt.machine import START_METHODS, logical_cores
from perfopt.machine import cuda_available as torch_sees_cuda

MODES = ("serial", "process", "thread", "server")


class WorkerError(PerfoptError):
    """A self-play worker died, failed or stopped answering."""


@dataclass
class SelfplayConfig:
    """One self-play run; see `perfopt selfplay --help` for each field."""

    games: int = 4
    simulations: int = 32
    mcts_batch_size: int = 8
    parallel: str = "serial"
    workers: int = 1
    start_method: str = "forkserver"
    device: str = "cpu"
    compile: bool = False
    compile_mode: str = "default"
    amp: bool = False
    seed: int = 0
    channels: int = 32
    blocks: int = 2
    torch_threads: int = 1
    out: Path | None = None
    worker_timeout_s: float = 300.0
    allow_oversubscription: bool = False


def check_config(cfg: SelfplayConfig, cuda_available: Callable[[], bool] | None = None) -> str:
    """Refuse bad or unsafe settings before any work starts; return the device to use."""
    for name, value in (
        ("games", cfg.games),
        ("simulations", cfg.simulations),
        ("mcts-batch-size", cfg.mcts_batch_size),
        ("workers", cfg.workers),
        ("torch-threads", cfg.torch_threads),
        ("channels", cfg.channels),
    ):
        if value < 1:
            raise UserError(f"--{name} must be at least 1 (got {value})")
    from perfopt.selfplay.modes import COMPILE_MODES

    if cfg.compile_mode not in COMPILE_MODES:
        raise UserError(
            f"--compile-mode must be one of {', '.join(COMPILE_MODES)} (got {cfg.compile_mode!r})"
        )
    if cfg.parallel not in MODES:
        raise UserError(f"--parallel must be one of {', '.join(MODES)} (got {cfg.parallel!r})")
    if cfg.start_method not in START_METHODS:
        raise UserError(
            f"unknown start method {cfg.start_method!r}; use {', '.join(START_METHODS)}"
        )
    if cfg.parallel == "serial" and cfg.workers != 1:
        raise UserError(
            "--parallel serial runs one worker; use process, thread or server for --workers > 1"
        )
    if cfg.device not in ("auto", "cpu", "cuda"):
        raise UserError(f"--device must be auto, cpu or cuda (got {cfg.device!r})")
    has_cuda = cuda_available() if cuda_available else torch_sees_cuda()
    device = ("cuda" if has_cuda else "cpu") if cfg.device == "auto" else cfg.device
    if device == "cuda" and not has_cuda:
        raise UserError(
            "--device cuda: CUDA is not available on this machine; use --device cpu or auto"
        )
    if cfg.parallel == "process" and cfg.start_method == "fork":
        if cfg.torch_threads > 1:
            raise UserError(
                "--start-method fork with --torch-threads > 1: a forked child running torch with "
                "several threads can hang (measured here); use 1 thread, forkserver or spawn"
            )
        if device == "cuda":
            raise UserError(
                "--start-method fork cannot use CUDA in the workers; use spawn or forkserver"
            )
    cores = logical_cores()
    torch_users = (
        cfg.workers * cfg.torch_threads
        if cfg.parallel in ("process", "thread")
        else cfg.torch_threads
    )
    busy = max(torch_users, cfg.workers)
    if busy > cores and not cfg.allow_oversubscription:
        raise UserError(
            f"{cfg.workers} worker(s) x {cfg.torch_threads} torch thread(s) exceed the {cores} "
            "cores; lower --workers or --torch-threads (or pass --allow-oversubscription)"
        )
    return device
