"""A user script looping over sqlite3 point queries for SECONDS (truth: io-database)."""

import sqlite3
import sys
import time

path, seconds = sys.argv[1], float(sys.argv[2])
con = sqlite3.connect(path)
cur = con.cursor()
end = time.perf_counter() + seconds
i = 0
while time.perf_counter() < end:
    for _ in range(500):
        i = (i * 7919 + 1) % 20000
        cur.execute("SELECT a, b, c FROM t WHERE id = ?", (i,)).fetchone()
