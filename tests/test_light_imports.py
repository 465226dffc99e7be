"""`import perfopt` and `perfopt --help` must stay light (docs/architecture.md: lazy heavy imports)."""

from __future__ import annotations

import json
import subprocess
import sys

HEAVY = ("torch", "numba", "optuna", "pandas", "pyarrow", "h5py", "dask", "matplotlib")


def imported_after(code: str) -> list[str]:
    script = f"{code}\nimport json, sys\nprint(json.dumps(sorted(m for m in {HEAVY!r} if m in sys.modules)))"
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_import_perfopt_is_light():
    assert imported_after("import perfopt") == []


def test_help_parser_is_light():
    assert imported_after("import perfopt.cli\nperfopt.cli.build_parser()") == []
