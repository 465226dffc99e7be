"""Argument types that refuse bad values while parsing, before any work starts.

Each raises `argparse.ArgumentTypeError` with the value and what is allowed, which the
parser prints as one line and exit status 2. Numbers must be finite (no nan or inf);
output paths must be writable where they point: a file output may not be a folder
and its folder must exist; a folder output may not be a file, nor sit under one.
"""

from __future__ import annotations

import argparse
import math
import os
from collections.abc import Callable
from pathlib import Path


def _number(text: str, kind: type) -> float | int:
    try:
        value = kind(text)
    except ValueError:
        what = "an integer" if kind is int else "a number"
        raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}") from None
    if kind is float and not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"expected a finite number, got {text!r}")
    return value


def int_at_least(low: int) -> Callable[[str], int]:
    """An integer >= low."""

    def parse(text: str) -> int:
        value = int(_number(text, int))
        if value < low:
            raise argparse.ArgumentTypeError(f"must be at least {low}, got {text}")
        return value

    parse.__name__ = f"int_at_least_{low}"
    return parse


positive_int = int_at_least(1)
non_negative_int = int_at_least(0)
seed = int_at_least(0)


def finite_float(text: str) -> float:
    """Any finite float."""
    return float(_number(text, float))


def positive_float(text: str) -> float:
    """A finite float > 0."""
    value = finite_float(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be a finite number > 0, got {text}")
    return value


def non_negative_float(text: str) -> float:
    """A finite float >= 0."""
    value = finite_float(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be a finite number >= 0, got {text}")
    return value


def float_in(low: float, high: float, high_open: bool = False) -> Callable[[str], float]:
    """A finite float in [low, high] (or [low, high) with high_open)."""

    def parse(text: str) -> float:
        value = finite_float(text)
        if value < low or value > high or (high_open and value == high):
            bracket = ")" if high_open else "]"
            raise argparse.ArgumentTypeError(f"must be in [{low:g}, {high:g}{bracket}, got {text}")
        return value

    parse.__name__ = "float_in"
    return parse


def non_empty(text: str) -> str:
    """A string with something in it."""
    if not text.strip():
        raise argparse.ArgumentTypeError("must not be empty")
    return text


def output_file(text: str) -> Path:
    """A file to write: not a folder, in a folder that exists and can be written."""
    if not text.strip():
        raise argparse.ArgumentTypeError("must name a file")
    path = Path(text).expanduser()
    if path.is_dir():
        raise argparse.ArgumentTypeError(f"{path} is a folder; name a file inside it")
    parent = path.resolve().parent
    if not parent.is_dir():
        raise argparse.ArgumentTypeError(
            f"folder {parent} of {path} does not exist; create it first"
        )
    if not os.access(parent, os.W_OK):
        raise argparse.ArgumentTypeError(f"folder {parent} of {path} is not writable")
    return path


def output_dir(text: str) -> Path:
    """A folder to write (created if missing): not a file, nor under a file."""
    if not text.strip():
        raise argparse.ArgumentTypeError("must name a folder")
    path = Path(text).expanduser()
    probe = path.resolve()
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    if not probe.is_dir():
        raise argparse.ArgumentTypeError(
            f"{probe} is a file, so {path} cannot be a folder; choose another path"
        )
    if not os.access(probe, os.W_OK):
        raise argparse.ArgumentTypeError(f"{probe} is not writable, so {path} cannot be made")
    return path
