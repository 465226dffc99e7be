"""A batch size the device's memory allows, estimated from the model's shapes.

On CUDA the estimate is the memory one sample needs in a training step (its input, the
LSTM's saved activations per time step and layer, the head), against half the device's
free memory (the other half for the allocator's slack, the optimizer and the chunk
loader's chunk). It is an upper bound to try, not a measured optimum: the step time
per sample, measured by `perfopt train` at two batch sizes, decides.

On a CPU the batch size is not limited by device memory (host memory is far larger than
one step needs), so no figure is given and the advice says so.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from perfopt.units import fmt_bytes, fmt_count

if TYPE_CHECKING:
    import torch

    from perfopt.train.sequences import SequenceInfo

# Bytes kept per sample, per time step and per layer by an LSTM's backward: the four
# gates, the cell and hidden states and their tanh (about 8 x hidden floats), doubled
# for gradients in flight.
_LSTM_FLOATS_PER_HIDDEN = 16
_MEMORY_SHARE = 0.5


@dataclass(frozen=True)
class BatchAdvice:
    """The largest batch size the device's memory allows (None on CPU) and why."""

    max_batch_size: int | None
    bytes_per_sample: int | None
    text: str


def step_bytes_per_sample(info: SequenceInfo, hidden: int, layers: int, amp: bool) -> int:
    """Estimated bytes one sample occupies in a training step (input + saved activations)."""
    width = 2 if amp else 4  # float16 activations under CUDA AMP
    activations = info.seq_len * layers * hidden * _LSTM_FLOATS_PER_HIDDEN * width
    return int(info.bytes_per_sample + activations + 4 * (hidden + info.horizon) * 2)


def recommend(free_bytes: int, per_sample: int, samples: int) -> int:
    """The largest power of two whose batches fit in half of free_bytes (at most `samples`)."""
    fit = max(int(_MEMORY_SHARE * free_bytes) // max(per_sample, 1), 1)
    best = 1
    while best * 2 <= min(fit, samples):
        best *= 2
    return best


def batch_size_advice(info: SequenceInfo, cfg: Any, device: torch.device, amp_mode: str) -> BatchAdvice:
    """Advice for cfg's model on device: a figure on CUDA, "not applicable" on CPU."""
    if device.type != "cuda":
        return BatchAdvice(
            None,
            None,
            f"{cfg.batch_size} (no recommendation on CPU: host memory is not the limit; "
            "compare samples/s at two batch sizes)",
        )
    import torch

    free, total = torch.cuda.mem_get_info(device)
    per_sample = step_bytes_per_sample(info, cfg.hidden, cfg.layers, amp_mode == "cuda-fp16")
    best = recommend(int(free), per_sample, info.samples)
    return BatchAdvice(
        best,
        per_sample,
        f"{cfg.batch_size}; the device's free memory ({fmt_bytes(free)} of {fmt_bytes(total)}) "
        f"allows up to about {fmt_count(best)} (an estimated {fmt_bytes(per_sample)} per "
        "sample in a step, using half the free memory): an upper bound to try, not a "
        "measured optimum",
    )
