"""Parse py-spy's raw output ("frame;frame;... count", one record per sample stack)."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

logger = logging.getLogger(__name__)

_COUNT = re.compile(r"^(.*) (\d+)$", re.S)
_PROC_HEAD = re.compile(r'process (\d+):"')
# py-spy --threads puts "thread (<OS thread id>)" or "thread (<id>): <name>" first.
_THREAD_HEAD = re.compile(r"thread \((0x[0-9a-fA-F]+|\d+)\)(?:: ([^;]*))?(?:;|$)")
# "func (file:line)" for Python frames, "func (library)" for native frames (--native)
# and "func (file)" with --nolineno.
_FRAME = re.compile(r"^(?P<func>.*) \((?P<file>[^()]*?)(?::(?P<line>\d+))?\)$", re.S)
_NATIVE_SOURCES = (".c", ".h", ".cc", ".cpp", ".cxx", ".hpp", ".rs", ".f", ".f90", ".s", ".S")
# A record that has not closed after this many lines is taken as garbage.
_MAX_RECORD_LINES = 64


@dataclass(frozen=True)
class Frame:
    """One stack frame: function, file (or native library) and line (None when absent)."""

    function: str
    file: str
    line: int | None

    @property
    def native(self) -> bool:
        """True for a C frame recorded with py-spy --native.

        Native frames name a library without a line ("f (libc.so.6)"), or, where the
        library has debug information, a C/C++/Rust source with one ("f (.../ceval.c:5)").
        """
        if self.file.startswith("<") or self.file.endswith(".py"):
            return False
        return self.line is None or self.file.endswith(_NATIVE_SOURCES)


@dataclass(frozen=True)
class Stack:
    """One raw record: the process chain (pid, cmdline), frames root first, sample count.

    `thread` is the OS thread id (and `thread_name` the Python name) when py-spy ran
    with --threads, else None.
    """

    processes: tuple[tuple[int, str], ...]
    frames: tuple[Frame, ...]
    count: int
    thread: int | None = None
    thread_name: str | None = None


def _parse_frame(text: str) -> Frame:
    match = _FRAME.match(text)
    if match is None:
        return Frame(function=text, file="", line=None)
    line = match.group("line")
    return Frame(match.group("func"), match.group("file"), int(line) if line else None)


def _frames_parse(text: str) -> bool:
    return all(_FRAME.match(part) for part in text.split(";"))


def _closing_quote(after: str) -> int | None:
    """Index of the quote closing a process's command line (which may hold ';' and '"')."""
    start = 0
    while True:
        i = after.find('"', start)
        if i < 0:
            return None
        rest = after[i + 1 :]
        if rest == "":
            return i
        if rest.startswith(";") and (
            rest[1:].startswith(("process ", "thread (")) or _frames_parse(rest[1:])
        ):
            return i
        start = i + 1


def parse_record(text: str) -> Stack | None:
    """Parse one complete raw record, or return None when `text` is not (yet) one."""
    match = _COUNT.match(text)
    if match is None:
        return None
    rest, count = match.group(1), int(match.group(2))
    processes: list[tuple[int, str]] = []
    while rest.startswith("process "):
        head = _PROC_HEAD.match(rest)
        if head is None:
            break
        after = rest[head.end() :]
        cut = _closing_quote(after)
        if cut is None:
            return None
        processes.append((int(head.group(1)), after[:cut]))
        rest = after[cut + 1 :]
        if rest.startswith(";"):
            rest = rest[1:]
        elif rest:
            return None
    thread = thread_name = None
    head = _THREAD_HEAD.match(rest)
    if head is not None:
        thread = int(head.group(1), 0)
        thread_name = head.group(2)
        rest = rest[head.end() :]
    frames = tuple(_parse_frame(part) for part in rest.split(";")) if rest else ()
    return Stack(tuple(processes), frames, count, thread, thread_name)


def parse_raw(lines: Iterable[str]) -> Iterator[Stack | None]:
    """Yield a Stack per record; None for each line that belongs to no valid record.

    A process's command line may span lines (`python -c` code), so lines are joined
    until they form a record.
    """
    buffer: list[str] = []
    for raw in lines:
        line = raw.rstrip("\r\n")
        if not buffer and not line.strip():
            continue
        buffer.append(line)
        while buffer:
            stack = parse_record("\n".join(buffer))
            if stack is not None:
                yield stack
                buffer = []
            elif len(buffer) > _MAX_RECORD_LINES:
                buffer.pop(0)
                yield None
                continue
            break
    for _ in buffer:
        yield None
