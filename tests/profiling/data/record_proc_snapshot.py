"""Record the /proc files the thread-state view reads, twice, 0.2 s apart (Linux).

    python tests/profiling/data/record_proc_snapshot.py tests/profiling/data/proc-snapshot

Starts one process whose threads each block on one thing (a busy main thread, a sleep,
a TCP recv, a Unix socket recv, a pipe read, a lock) and a child that reads a file with
O_DIRECT (often in state D), then copies, for each thread, stat, schedstat and syscall,
and for each process comm, the exe link, the fd links its threads block on, the Unix
socket table lines of those sockets, a synthetic environ (only a thread cap, never the
real environment) and the library lines of maps, into DEST/t0 and DEST/t1.
"""

from __future__ import annotations

import os
import shutil
import socket
import sys
import threading
import time
from pathlib import Path

SYSCALL_FD = {0, 17, 19, 44, 45, 46, 47, 295, 327}  # x86_64 calls whose arg 1 is an fd


def _busy(stop: threading.Event) -> None:
    x = 0
    while not stop.is_set():
        x += 1


def _reader(path: str) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECT)
    import mmap

    buf = mmap.mmap(-1, 1 << 20)
    while True:
        for off in range(0, 64 << 20, 1 << 20):
            os.preadv(fd, [buf], off)


def _copy_process(pid: int, dest: Path) -> None:
    src = Path(f"/proc/{pid}")
    out = dest / str(pid)
    (out / "fd").mkdir(parents=True)
    (out / "net").mkdir()
    (out / "comm").write_bytes((src / "comm").read_bytes())
    os.symlink("/usr/bin/python3.11", out / "exe")
    (out / "environ").write_bytes(b"OPENBLAS_NUM_THREADS=2\0LANG=C\0")
    maps = [ln for ln in (src / "maps").read_bytes().splitlines() if b".so" in ln]
    (out / "maps").write_bytes(b"\n".join(maps[:40]) + b"\n")
    inodes = set()
    for task in sorted((src / "task").iterdir()):
        t_out = out / "task" / task.name
        t_out.mkdir(parents=True)
        for name in ("stat", "schedstat", "syscall"):
            (t_out / name).write_bytes((task / name).read_bytes())
        call = (t_out / "syscall").read_text().split()
        if call and call[0].isdigit() and int(call[0]) in SYSCALL_FD:
            fd = int(call[1], 16)
            try:
                target = os.readlink(src / "fd" / str(fd))
            except OSError:
                continue
            if target.startswith("/"):  # a file: keep its name, not this machine's path
                target = "/data/" + os.path.basename(target)
            os.symlink(target, out / "fd" / str(fd))
            if target.startswith("socket:["):
                inodes.add(target[8:-1].encode())
    unix = (src / "net" / "unix").read_bytes().splitlines()
    keep = [unix[0]] + [ln for ln in unix[1:] if len(ln.split()) > 6 and ln.split()[6] in inodes]
    (out / "net" / "unix").write_bytes(b"\n".join(keep) + b"\n")


def main() -> int:
    dest = Path(sys.argv[1])
    shutil.rmtree(dest, ignore_errors=True)
    data = dest.parent / "odirect.tmp"
    with open(data, "wb") as f:
        f.write(os.urandom(64 << 20))
    child = os.fork()
    if child == 0:
        _reader(str(data))
    a, b = socket.socketpair()
    srv = socket.create_server(("127.0.0.1", 0))
    c = socket.create_connection(srv.getsockname())
    s, _ = srv.accept()
    r, w = os.pipe()
    lock = threading.Lock()
    lock.acquire()
    stop = threading.Event()
    for target in (lambda: a.recv(1), lambda: s.recv(1), lambda: os.read(r, 1),
                   lambda: time.sleep(30), lock.acquire, lambda: _busy(stop)):  # fmt: skip
        threading.Thread(target=target, daemon=True).start()
    time.sleep(0.5)
    for frame in ("t0", "t1"):
        for pid in (os.getpid(), child):
            _copy_process(pid, dest / frame)
        time.sleep(0.2)
    stop.set()
    os.kill(child, 9)
    os.waitpid(child, 0)
    data.unlink()
    print(f"recorded {dest}: parent {os.getpid()}, O_DIRECT reader {child}; "
          f"TCP {s.fileno()}, unix {a.fileno()}, pipe {r}; {c.fileno()} {b.fileno()} {w}")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
