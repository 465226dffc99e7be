"""A fork Pool of N workers, each busy for SECONDS; the parent only waits for them.

N = 2 on 2 cores: the workers compute, the parent supervises (truth: cpu-python).
N = 4 on 2 cores: twice the runnable threads of the cores (truth: oversubscribed).
"""

import multiprocessing as mp
import sys

from busy import busy

seconds, workers = float(sys.argv[1]), int(sys.argv[2])
with mp.get_context("fork").Pool(workers) as pool:
    pool.map(busy, [seconds] * workers, chunksize=1)
