"""Memory watching during training: periodic host/device readings and the leak check."""

from __future__ import annotations

import gc
import logging
from typing import Any

import psutil
import torch

from perfopt.train.gpu import device_memory

log = logging.getLogger("perfopt.train.loop")  # the loop's logger: its lines read as before


def device_bytes(device: torch.device) -> int:
    return int(torch.cuda.memory_allocated(device)) if device.type == "cuda" else 0


def memory_entry(batch: int, device: torch.device, proc: psutil.Process) -> dict[str, Any]:
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


def memory_text(entry: dict[str, Any]) -> str:
    text = f"host rss {entry['host_rss'] / 2**20:.1f} MiB"
    if entry["device_total"]:
        text += (
            f", device allocated {entry['device_allocated'] / 2**20:.1f} MiB, reserved "
            f"{(entry['device_reserved'] or 0) / 2**20:.1f} MiB of {entry['device_total'] / 2**30:.1f} GiB"
        )
    if entry["gpu_utilization_pct"] is not None:
        text += f", GPU {entry['gpu_utilization_pct']:.0f}% busy"
    return text


def leak_check(
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
    now = device_bytes(device) if device.type == "cuda" else proc.memory_info().rss
    grown = (now - baseline) / 2**20
    if grown > threshold_mb:
        msg = f"possible memory leak: {'device' if device.type == 'cuda' else 'host'} memory grew {grown:.1f} MiB since epoch 1 (epoch {epoch + 1})"
        log.warning(msg)
        return [msg]
    return []
