"""asv suites for training on HDF5: per-sample vs chunk loader (CPU; CUDA where present).

A training run builds the model and opens the file before the epochs it times, and runs
a leak check (a full gc.collect) after each: at these sizes that costs more than the
epoch. So the figure is the workload's own epoch timer (track_epoch_s), taken after a
warm-up run in setup (torch import, first steps).
"""

from __future__ import annotations

import os

from ._data import measure, prepared, workload

TRAIN = "perfopt.train.workload:TrainWorkload"
SMALL = {"samples": 1024, "seq_len": 32, "features": 8, "epochs": 1, "batch_size": 128}


class Loaders:
    """Epoch time and peak memory per loader."""

    params = (["per-sample", "chunk"], ["cpu", "cuda"])
    param_names = ["loader", "device"]
    timeout = 300

    def setup_cache(self):
        return os.path.abspath("train-cache")

    def setup(self, cache, loader, device):
        if device == "cuda":
            try:
                import torch
            except ImportError:
                raise NotImplementedError("torch is not installed") from None
            if not torch.cuda.is_available():
                raise NotImplementedError("no CUDA device")
        self.wl = workload(TRAIN)
        self.params = prepared(self.wl, {**SMALL, "loader": loader, "device": device}, cache)
        measure(self.wl, self.params, cache)  # warm-up

    def track_epoch_s(self, cache, loader, device):
        """Seconds of the epoch, by the training loop's own timer."""
        return measure(self.wl, self.params, cache).seconds

    track_epoch_s.unit = "s"

    def peakmem_epoch(self, cache, loader, device):
        measure(self.wl, self.params, cache)


class ChunkGain:
    """Per-sample epoch time / chunk epoch time, measured in one benchmark."""

    timeout = 300

    def setup_cache(self):
        return os.path.abspath("train-cache")

    def setup(self, cache):
        self.wl = workload(TRAIN)
        measure(self.wl, prepared(self.wl, {**SMALL, "loader": "chunk"}, cache), cache)  # warm-up

    def track_per_sample_over_chunk(self, cache):
        per = measure(self.wl, prepared(self.wl, {**SMALL, "loader": "per-sample"}, cache), cache)
        chunk = measure(self.wl, prepared(self.wl, {**SMALL, "loader": "chunk"}, cache), cache)
        return per.metrics["epoch_s"] / chunk.metrics["epoch_s"]

    track_per_sample_over_chunk.unit = "x"
