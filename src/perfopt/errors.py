"""The error types perfopt raises on purpose.

`UserError` is for anything the user can fix (a missing file, a bad value, an invalid
combination of flags). The CLI catches it once, prints its one-line message and exits
with status 2, the status argparse uses for bad usage. Anything else is a bug and keeps
its traceback.
"""

from __future__ import annotations


class PerfoptError(Exception):
    """Root of every error perfopt raises on purpose."""


class UserError(PerfoptError):
    """Bad input the user can fix; the message names the file or value and the fix."""

    exit_code = 2
