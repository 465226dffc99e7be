"""An HDF5 read loop over a dataset for SECONDS, cache dropped each pass (truth: io-disk)."""

import os
import sys
import time

import h5py
import numpy as np

path, seconds = sys.argv[1], float(sys.argv[2])
end = time.perf_counter() + seconds
with h5py.File(path, "r") as f:
    data = f["x"]
    out = np.empty((256,) + data.shape[1:], dtype=data.dtype)
    fd = os.open(path, os.O_RDONLY)
    while time.perf_counter() < end:
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
        for start in range(0, data.shape[0], 256):
            data.read_direct(out, np.s_[start : start + 256])
            if time.perf_counter() >= end:
                break
    os.close(fd)
