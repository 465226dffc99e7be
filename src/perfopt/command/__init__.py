"""An arbitrary command as a workload: argv template with {axis} placeholders."""

from __future__ import annotations

from perfopt.command.template import find_placeholders, substitute
from perfopt.command.workload import CommandWorkload

__all__ = ["CommandWorkload", "find_placeholders", "substitute"]
