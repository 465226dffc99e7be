"""The error types perfopt raises on purpose.

`UserError` is for anything the user can fix (a missing file, a bad value, an invalid
combination of flags). The CLI catches it once, prints its one-line message and exits
with status 2, the status argparse uses for bad usage. `ServiceError` is for a service
perfopt relies on that stopped answering after retries (a database connection that
does not come back): one line too, exit status 1. Anything else is a bug and keeps its
traceback (with secrets masked).
"""

from __future__ import annotations


class PerfoptError(Exception):
    """Root of every error perfopt raises on purpose."""

    exit_code = 1


class UserError(PerfoptError):
    """Bad input the user can fix; the message names the file or value and the fix."""

    exit_code = 2


class ServiceError(PerfoptError):
    """A service (a storage server) failed past its retries; the message says what to do."""

    exit_code = 1
