"""Read one thread's kernel state from /proc: state, CPU and run-queue time, its syscall.

The files (Linux, `proc(5)`): `/proc/<pid>/task/<tid>/stat` (state: R running or
runnable, S sleeping, D uninterruptible wait, T/t stopped, Z zombie; utime and stime),
`.../schedstat` (nanoseconds on a CPU and waiting on a run queue: exact, where the kernel
has it) and `.../syscall` (the syscall a blocked thread is in, with its arguments), and
`/proc/<pid>/fd/<n>` (what a file descriptor is: a file, a pipe, a socket). Every reader
takes the /proc root as an argument, so a recorded snapshot parses like the real thing.
"""

from __future__ import annotations

import os
import platform
from dataclasses import dataclass

PROC = "/proc"
CLK_TCK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100

# What a blocked thread waits for. "cpu" and "runqueue" come from time, not from syscalls.
DISK, NETWORK, PIPE, SLEEP = "disk", "network", "pipe", "sleep"

# Syscall numbers of the calls that say what a sleeping thread waits for, per machine.
_X86_64 = {
    0: "read", 1: "write", 7: "poll", 17: "pread64", 18: "pwrite64", 19: "readv",
    20: "writev", 23: "select", 34: "pause", 35: "nanosleep", 40: "sendfile",
    42: "connect", 43: "accept", 44: "sendto", 45: "recvfrom", 46: "sendmsg",
    47: "recvmsg", 61: "wait4", 74: "fsync", 75: "fdatasync", 128: "rt_sigtimedwait",
    130: "rt_sigsuspend", 202: "futex", 219: "restart_syscall", 208: "io_getevents", 230: "clock_nanosleep",
    232: "epoll_wait", 247: "waitid", 270: "pselect6", 271: "ppoll", 275: "splice",
    277: "sync_file_range", 281: "epoll_pwait", 288: "accept4", 295: "preadv",
    296: "pwritev", 299: "recvmmsg", 307: "sendmmsg", 327: "preadv2", 328: "pwritev2",
    333: "io_pgetevents", 426: "io_uring_enter", 441: "epoll_pwait2", 449: "futex_waitv",
}  # fmt: skip
_AARCH64 = {
    4: "io_getevents", 22: "epoll_pwait", 63: "read", 64: "write", 65: "readv",
    66: "writev", 67: "pread64", 68: "pwrite64", 69: "preadv", 70: "pwritev",
    71: "sendfile", 72: "pselect6", 73: "ppoll", 76: "splice", 82: "fsync",
    83: "fdatasync", 84: "sync_file_range", 95: "waitid", 98: "futex", 101: "nanosleep",
    115: "clock_nanosleep", 128: "restart_syscall", 133: "rt_sigsuspend", 137: "rt_sigtimedwait", 202: "accept",
    203: "connect", 206: "sendto", 207: "recvfrom", 211: "sendmsg", 212: "recvmsg",
    242: "accept4", 243: "recvmmsg", 260: "wait4", 269: "sendmmsg", 286: "preadv2",
    287: "pwritev2", 292: "io_pgetevents", 426: "io_uring_enter", 441: "epoll_pwait2",
    449: "futex_waitv",
}  # fmt: skip
SYSCALL_TABLES = {"x86_64": _X86_64, "amd64": _X86_64, "aarch64": _AARCH64, "arm64": _AARCH64}

_SOCKET_CALLS = frozenset(
    [
        "connect",
        "accept",
        "accept4",
        "sendto",
        "recvfrom",
        "sendmsg",
        "recvmsg",
        "recvmmsg",
        "sendmmsg",
    ]
)
# Calls whose first argument is a file descriptor that says what is waited on.
_FD_CALLS = frozenset(
    [
        "read",
        "write",
        "readv",
        "writev",
        "pread64",
        "pwrite64",
        "preadv",
        "pwritev",
        "preadv2",
        "pwritev2",
        "sendfile",
        "splice",
    ]
)
_DISK_CALLS = frozenset(
    ["fsync", "fdatasync", "sync_file_range", "io_getevents", "io_pgetevents", "io_uring_enter"]
)


def syscall_table(machine: str | None = None) -> dict[int, str] | None:
    """Syscall numbers to names for this machine (None where perfopt has no table)."""
    return SYSCALL_TABLES.get((machine or platform.machine()).lower())


@dataclass(frozen=True)
class TaskStat:
    """One reading of a thread: name, state letter, CPU and run-queue seconds so far."""

    name: str
    state: str
    cpu_s: float
    runqueue_s: float | None  # None where the kernel has no schedstat


def parse_stat(data: bytes) -> tuple[str, str, int, float]:
    """Parse a stat line: (comm, state, ppid, utime + stime seconds)."""
    # "pid (comm) state ppid ...": comm may hold spaces and parentheses.
    left, right = data.find(b"("), data.rfind(b")")
    name = data[left + 1 : right].decode(errors="replace")
    fields = data[right + 2 :].split()
    # fields[0] is field 3 (state) of proc(5): utime is field 14, stime 15
    cpu = (int(fields[11]) + int(fields[12])) / CLK_TCK
    return name, fields[0].decode(), int(fields[1]), cpu


def parse_schedstat(data: bytes) -> tuple[float, float]:
    """Parse schedstat: (seconds on a CPU, seconds runnable waiting for one)."""
    run, wait = data.split()[:2]
    return int(run) / 1e9, int(wait) / 1e9


def parse_syscall(data: bytes) -> tuple[int, int] | None:
    """Parse a syscall file: (number, first argument), None when not blocked in one."""
    fields = data.split()
    if not fields or fields[0] == b"running" or fields[0].startswith(b"-"):
        return None
    return int(fields[0]), int(fields[1], 16) if len(fields) > 1 else 0


def _read(path: str) -> bytes | None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return None
    try:
        return os.read(fd, 4096)
    except OSError:
        return None
    finally:
        os.close(fd)


def tasks(pid: int, root: str = PROC) -> list[int]:
    """Thread ids of a process ([] when it is gone)."""
    try:
        return [int(t) for t in os.listdir(f"{root}/{pid}/task")]
    except OSError:
        return []


def read_task(pid: int, tid: int, root: str = PROC) -> TaskStat | None:
    """Read a thread's stat and schedstat (None when it is gone)."""
    base = f"{root}/{pid}/task/{tid}"
    data = _read(f"{base}/stat")
    if not data:
        return None
    name, state, _, cpu = parse_stat(data)
    sched = _read(f"{base}/schedstat")
    if sched:
        run, wait = parse_schedstat(sched)
        return TaskStat(name, state, run, wait)
    return TaskStat(name, state, cpu, None)


class FdKinds:
    """What file descriptors are: file, pipe, TCP/UDP socket or local (Unix) socket.

    Socket inodes are looked up once in /proc/<pid>/net/unix; a socket not listed there
    is a network socket.
    """

    def __init__(self, root: str = PROC) -> None:
        self.root = root
        self._sockets: dict[str, bool] = {}  # socket inode -> is a Unix socket

    def kind(self, pid: int, fd: int) -> str:
        """DISK, NETWORK, PIPE or SLEEP (a terminal, an eventfd, or unknown)."""
        try:
            target = os.readlink(f"{self.root}/{pid}/fd/{fd}")
        except OSError:
            return SLEEP
        if target.startswith("socket:["):
            inode = target[8:-1]
            if inode not in self._sockets:
                self._load_unix(pid)
                self._sockets.setdefault(inode, False)
            return PIPE if self._sockets[inode] else NETWORK
        if target.startswith("pipe:["):
            return PIPE
        if target.startswith("/dev/pts") or target.startswith("/dev/tty"):
            return SLEEP  # waiting for a person at a terminal
        return DISK if target.startswith("/") else SLEEP

    def _load_unix(self, pid: int) -> None:
        data = b""
        try:
            with open(f"{self.root}/{pid}/net/unix", "rb") as f:
                data = f.read()
        except OSError:
            return
        for line in data.splitlines()[1:]:
            fields = line.split()
            if len(fields) >= 7:
                self._sockets[fields[6].decode()] = True


def blocked_on(
    pid: int,
    tid: int,
    state: str,
    table: dict[int, str] | None,
    fds: FdKinds,
    root: str = PROC,
) -> tuple[str, str | None]:
    """What a thread in state S or D waits for: (DISK/NETWORK/PIPE/SLEEP, syscall name)."""
    name = None
    if table is not None:
        call = parse_syscall(_read(f"{root}/{pid}/task/{tid}/syscall") or b"")
        if call is not None:
            name = table.get(call[0], f"syscall {call[0]}")
            if state != "D":
                if name in _SOCKET_CALLS:
                    kind = fds.kind(pid, call[1])
                    return (NETWORK if kind == DISK else kind), name
                if name in _FD_CALLS:
                    return fds.kind(pid, call[1]), name
                if name in _DISK_CALLS:
                    return DISK, name
    # D: uninterruptible, which on Linux is block IO (reads, writes, page faults on
    # files); S in anything else (futex, sleeps, polls, waits for children) is waiting.
    return (DISK if state == "D" else SLEEP), name


def read_text(path: str) -> str | None:
    """A small /proc file as text (None when unreadable)."""
    data = _read(path)
    return None if data is None else data.decode(errors="replace")


def read_big(path: str) -> bytes:
    """A /proc file of any size (maps, environ) as bytes (b"" when unreadable)."""
    try:
        with open(path, "rb") as f:
            return f.read()
    except OSError:
        return b""
