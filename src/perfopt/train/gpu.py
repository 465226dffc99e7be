"""What a CUDA device holds and does right now: memory by torch's allocator, and NVML.

`device_memory` reads torch's allocator (allocated, reserved) and the device's total
memory; GPU utilization comes from NVML when `nvidia-ml-py` (module `pynvml`) is
installed, and is None otherwise, saying so rather than guessing. On a CPU device
every figure is None.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass
from typing import Any

import torch

log = logging.getLogger(__name__)
_nvml: dict[str, Any] = {}


@dataclass(frozen=True)
class DeviceMemory:
    """One reading of a device's memory and utilization (None where not measurable)."""

    allocated_bytes: int | None
    reserved_bytes: int | None
    total_bytes: int | None
    utilization_pct: float | None
    source: str  # "torch+nvml", "torch" or "cpu"

    def to_dict(self) -> dict[str, Any]:
        """JSON-serializable form."""
        return asdict(self)


def device_memory(device: torch.device) -> DeviceMemory:
    """Read the device's allocated, reserved and total memory, and NVML utilization."""
    if device.type != "cuda":
        return DeviceMemory(None, None, None, None, "cpu")
    index = device.index if device.index is not None else torch.cuda.current_device()
    total = int(torch.cuda.get_device_properties(index).total_memory)
    util = _nvml_utilization(index)
    return DeviceMemory(
        int(torch.cuda.memory_allocated(index)),
        int(torch.cuda.memory_reserved(index)),
        total,
        util,
        "torch+nvml" if util is not None else "torch",
    )


def _nvml_utilization(index: int) -> float | None:
    """GPU utilization in percent from NVML, or None when pynvml is missing or fails."""
    if "handle" not in _nvml:
        try:
            import pynvml

            pynvml.nvmlInit()
            _nvml["module"] = pynvml
            _nvml["handle"] = pynvml.nvmlDeviceGetHandleByIndex(index)
        except Exception as exc:  # noqa: BLE001 - NVML is optional
            log.info("NVML unavailable (%s): GPU utilization not sampled", exc)
            _nvml["handle"] = None
    if _nvml["handle"] is None:
        return None
    try:
        rates = _nvml["module"].nvmlDeviceGetUtilizationRates(_nvml["handle"])
    except Exception:  # noqa: BLE001
        return None
    return float(rates.gpu)
