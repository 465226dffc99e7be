"""Command templates: the `{axis}` placeholders of an argv, their substitution, the program check.

Shared by the command workload (which runs the command) and `perfopt sweep` (which
checks it before any cell starts), so the harness needs no workload module for it.
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from perfopt.errors import UserError

_PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")


def find_placeholders(argv: list[str]) -> set[str]:
    """Return the placeholder names used in an argv template."""
    return {name for arg in argv for name in _PLACEHOLDER.findall(arg)}


def substitute(template: str, params: Mapping[str, Any]) -> str:
    """Replace `{name}` with params[name] for known names; leave other braces alone."""

    def repl(match: re.Match[str]) -> str:
        name = match.group(1)
        return str(params[name]) if name in params else match.group(0)

    return _PLACEHOLDER.sub(repl, template)


def check_command(argv: list[str]) -> None:
    """Raise UserError when argv is empty or its program cannot be found."""
    if not argv:
        raise UserError("no command given: put it after `--`, e.g. -- python bench.py {n}")
    program = argv[0]
    if "{" in program:
        return  # decided per cell
    if os.sep in program:
        if not (Path(program).is_file() and os.access(program, os.X_OK)):
            raise UserError(f"command {program!r} is not an executable file")
    elif shutil.which(program) is None:
        raise UserError(f"command {program!r} not found on PATH")
