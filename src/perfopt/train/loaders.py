"""The two loaders compared: a per-sample h5py Dataset in a DataLoader, and a chunk loader.

Both yield `(features, targets)` float32 batches in file order (the chunk loader may
shuffle within a chunk when asked), so for the same batch size and drop_last they
yield identical batches, which the tests check. The chunk loader differs from the
source's sketch in one deliberate way: a chunk holds a whole number of batches, so no
short batch appears at a chunk boundary and the batches do not depend on the chunk size.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import h5py
import numpy as np
import psutil
import torch
from torch.utils.data import DataLoader, Dataset

from perfopt.errors import UserError
from perfopt.train.sequences import SequenceInfo, validate_sequences

log = logging.getLogger(__name__)
GIB = 1024**3
CHUNK_FRACTION = 0.75  # the source's safety margin: use 75% of free memory


class SequenceDataset(Dataset):
    """One sample per index, read from HDF5; the file opens lazily in each process."""

    def __init__(self, path: Path) -> None:
        self.info = validate_sequences(path)
        self.path = str(self.info.path)
        self._file: h5py.File | None = None
        self._pid = -1

    def __len__(self) -> int:
        return self.info.samples

    def _handle(self) -> h5py.File:
        # A handle inherited across fork is not safe to use, and one cannot be pickled
        # for spawn: each process opens its own on first use.
        if self._file is None or self._pid != os.getpid():
            self._file = h5py.File(self.path, "r")
            self._pid = os.getpid()
        return self._file

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        f = self._handle()
        return torch.from_numpy(f["features"][index]), torch.from_numpy(f["targets"][index])

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state["_file"] = None
        state["_pid"] = -1
        return state


def _one_thread_worker(_: int) -> None:
    """DataLoader worker init: one torch thread per worker (DataLoader does this too)."""
    torch.set_num_threads(1)


def per_sample_loader(
    path: Path,
    batch_size: int,
    num_workers: int = 0,
    pin_memory: bool = False,
    drop_last: bool = False,
    start_method: str | None = None,
    prefetch_factor: int | None = None,
    persistent_workers: bool = False,
) -> DataLoader:
    """Return a DataLoader over SequenceDataset in file order."""
    if batch_size < 1:
        raise UserError(f"--batch-size must be at least 1 (got {batch_size})")
    if num_workers < 0:
        raise UserError(f"--num-workers must be 0 or more (got {num_workers})")
    dataset = SequenceDataset(path)
    kwargs: dict[str, Any] = {}
    if num_workers > 0:
        kwargs["worker_init_fn"] = _one_thread_worker
        if start_method:
            kwargs["multiprocessing_context"] = start_method
        # None keeps torch's default (2 batches per worker)
        if prefetch_factor is not None:
            kwargs["prefetch_factor"] = prefetch_factor
        kwargs["persistent_workers"] = persistent_workers
    elif prefetch_factor is not None or persistent_workers:
        raise UserError(
            "--prefetch-factor and --persistent-workers need DataLoader workers (--num-workers N)"
        )
    return DataLoader(
        dataset,
        batch_size=batch_size,
        shuffle=False,
        num_workers=num_workers,
        pin_memory=pin_memory,
        drop_last=drop_last,
        **kwargs,
    )


def available_memory_bytes(device: torch.device) -> int:
    """Free memory a chunk may use: device free memory capped by host available memory."""
    host = int(psutil.virtual_memory().available)
    if device.type == "cuda":
        free, _total = torch.cuda.mem_get_info(device)
        # The pinned host staging buffer is as large as the chunk: cap by host memory.
        return min(int(free), host)
    return host


def default_chunk_size_gb(device: torch.device) -> float:
    """75% of the free memory a chunk may use (see available_memory_bytes), in GiB."""
    return CHUNK_FRACTION * available_memory_bytes(device) / GIB


class ChunkDataLoader:
    """Read contiguous chunks of an HDF5 sequence file onto the device; slice batches there.

    On CUDA each chunk is read into pinned host memory and copied with non_blocking;
    on CPU the chunk tensor is the batch source itself. Each chunk is freed before the
    next is read.
    """

    def __init__(
        self,
        path: Path,
        batch_size: int,
        chunk_size_gb: float | None = None,
        device: torch.device | str = "cpu",
        shuffle_within_chunk: bool = False,
        drop_last: bool = False,
        seed: int = 0,
    ) -> None:
        if batch_size < 1:
            raise UserError(f"--batch-size must be at least 1 (got {batch_size})")
        self.info: SequenceInfo = validate_sequences(path)
        self.device = torch.device(device)
        self.batch_size = batch_size
        self.drop_last = drop_last
        self.shuffle_within_chunk = shuffle_within_chunk
        self.seed = seed
        self._epoch = 0
        avail = available_memory_bytes(self.device)
        if chunk_size_gb is None:
            chunk_size_gb = CHUNK_FRACTION * avail / GIB
        elif chunk_size_gb <= 0:
            raise UserError(f"--chunk-size-gb must be positive (got {chunk_size_gb})")
        elif chunk_size_gb * GIB > avail:
            raise UserError(
                f"--chunk-size-gb {chunk_size_gb:g} is larger than the {avail / GIB:.2f} GiB of free "
                f"{'device' if self.device.type == 'cuda' else 'host'} memory; pass a smaller value "
                "or leave it out for 75% of free memory"
            )
        self.chunk_size_gb = float(chunk_size_gb)
        per_chunk = int(chunk_size_gb * GIB) // self.info.bytes_per_sample
        # Whole batches per chunk, at least one batch, at most the dataset (rounded up).
        per_chunk = max(batch_size, per_chunk // batch_size * batch_size)
        whole = -(-self.info.samples // batch_size) * batch_size
        self.samples_per_chunk = min(per_chunk, whole)
        self.chunk_ranges = [
            (start, min(start + self.samples_per_chunk, self.info.samples))
            for start in range(0, self.info.samples, self.samples_per_chunk)
        ]
        # What the last epoch did: chunks read, whether their host buffers were pinned
        # and copied without blocking (CUDA), and the device memory seen between chunks.
        self.stats: dict[str, Any] = {}

    def __len__(self) -> int:
        n = self.info.samples
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)

    def _load(self, f: h5py.File, start: int, stop: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Read rows [start, stop) straight into (pinned on CUDA) tensors on the device."""
        rows = stop - start
        pin = self.device.type == "cuda"
        out = []
        for name in ("features", "targets"):
            ds = f[name]
            host = torch.empty((rows, *ds.shape[1:]), dtype=torch.float32, pin_memory=pin)
            ds.read_direct(host.numpy(), source_sel=np.s_[start:stop], dest_sel=np.s_[0:rows])
            # a pinned buffer copied with non_blocking: the copy overlaps the next read;
            # the caching host allocator keeps the buffer until the copy has finished
            out.append(host.to(self.device, non_blocking=True) if pin else host)
            self.stats["pinned"] = bool(host.is_pinned()) if pin else False
            self.stats["non_blocking"] = pin
        self.stats["chunks"] = self.stats.get("chunks", 0) + 1
        return out[0], out[1]

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        gen = torch.Generator().manual_seed(self.seed + self._epoch)
        self._epoch += 1
        self.stats = {"chunks": 0, "device_allocated_between_chunks": []}
        n = self.info.samples
        with h5py.File(self.info.path, "r") as f:
            for start, stop in self.chunk_ranges:
                feats, targs = self._load(f, start, stop)
                rows = stop - start
                order = (
                    torch.randperm(rows, generator=gen).to(self.device)
                    if self.shuffle_within_chunk
                    else None
                )
                for i in range(0, rows, self.batch_size):
                    j = min(i + self.batch_size, rows)
                    if self.drop_last and j - i < self.batch_size:
                        break  # only the last chunk can end short (chunks hold whole batches)
                    if order is None:
                        yield feats[i:j], targs[i:j]
                    else:
                        idx = order[i:j]
                        yield feats.index_select(0, idx), targs.index_select(0, idx)
                del feats, targs, order
                if self.device.type == "cuda":
                    torch.cuda.empty_cache()
                    self.stats["device_allocated_between_chunks"].append(
                        int(torch.cuda.memory_allocated(self.device))
                    )
                log.debug("chunk %d:%d of %d done", start, stop, n)
