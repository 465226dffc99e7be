"""A preload module for the launcher tests: it remembers the process that imported it."""

from __future__ import annotations

import os

IMPORTED_IN = os.getpid()
