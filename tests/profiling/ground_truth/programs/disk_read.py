"""Read a file from disk for SECONDS, past the page cache (truth: io-disk).

O_DIRECT reads with os.preadv into an aligned buffer; where the filesystem refuses
O_DIRECT (tmpfs, some overlays), the pages of the file are dropped from the cache with
posix_fadvise(DONTNEED) before each pass and read with plain reads instead, and the
program says so on stderr.
"""

import mmap
import os
import sys
import time

path, seconds = sys.argv[1], float(sys.argv[2])
size = os.path.getsize(path)
block = 1 << 20
buf = mmap.mmap(-1, block)  # page-aligned, as O_DIRECT needs
try:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECT)
    direct = True
except OSError as exc:
    print(f"O_DIRECT refused ({exc.strerror}): posix_fadvise(DONTNEED) + reads", file=sys.stderr)
    fd = os.open(path, os.O_RDONLY)
    direct = False
end = time.perf_counter() + seconds
total = 0
while time.perf_counter() < end:
    if not direct:
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    for offset in range(0, size, block):
        total += os.preadv(fd, [buf], offset)
        if time.perf_counter() >= end:
            break
os.close(fd)
