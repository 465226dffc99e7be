"""numpy matmul on 2 BLAS threads for SECONDS (truth: cpu-native)."""

import sys
import time

import numpy as np

seconds = float(sys.argv[1])
a = np.random.default_rng(0).random((800, 800))
end = time.perf_counter() + seconds
while time.perf_counter() < end:
    a = a @ a
    a /= np.abs(a).max()
