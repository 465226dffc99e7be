"""`python -m perfopt` runs the command line."""

from __future__ import annotations

from perfopt.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
