"""An arbitrary command as a workload: argv template with {axis} placeholders."""

from __future__ import annotations

from perfopt.command.workload import CommandWorkload, find_placeholders, substitute

__all__ = ["CommandWorkload", "find_placeholders", "substitute"]
