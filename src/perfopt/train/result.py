"""What a training run measured: per-epoch stats, the result, its report and JSON form."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from typing import Any

from perfopt.units import fmt_bytes, fmt_count, fmt_duration, fmt_pct, fmt_rate


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
