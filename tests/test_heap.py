"""perfopt.heap: glibc keeps freed memory under `keep`, measured in page faults of real processes."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from perfopt.errors import UserError
from perfopt.heap import describe_heap, glibc_version
from perfopt.optimize.config import OptimizeConfig

needs_glibc = pytest.mark.skipif(glibc_version() is None, reason="not a glibc system")

# A trial's pattern: a dozen 2 MB temporaries alive at once, then all freed, many times.
# The minor page faults of the loop (after one warm-up round) are counted in the child.
CHILD = """
import json, resource, sys
import numpy as np
from perfopt.heap import set_heap

setting = set_heap(sys.argv[1])

def rounds(n):
    for _ in range(n):
        arrays = [np.ones(262144) for _ in range(12)]
        del arrays

rounds(1)
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
rounds(50)
faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before
print(json.dumps({"faults": faults, **setting.as_dict()}))
"""


def run_child(mode: str, **env: str) -> dict[str, object]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("MALLOC_")}
    clean.pop("GLIBC_TUNABLES", None)
    out = subprocess.run(
        [sys.executable, "-c", CHILD, mode],
        env={**clean, **env},
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    return json.loads(out.stdout)


@needs_glibc
def test_keep_reuses_freed_memory_where_the_system_default_faults_in_new_pages():
    system = run_child("system")
    keep = run_child("keep")
    assert system["applied"] is False and keep["applied"] is True
    assert "mmap threshold 32 MiB" in str(keep["detail"])
    # 50 rounds of 12 x 2 MB: the default gives the memory back and faults it in again
    # (about 6,000 faults a round); keep reuses it.
    assert system["faults"] > 50 * 1000, system
    assert keep["faults"] < system["faults"] / 20, (keep, system)


@needs_glibc
def test_the_users_own_malloc_variables_win_and_their_values_are_not_shown():
    keep = run_child("keep", MALLOC_TRIM_THRESHOLD_="131072")
    assert keep["applied"] is False
    assert "MALLOC_TRIM_THRESHOLD_" in str(keep["detail"])
    assert "131072" not in str(keep["detail"])


def test_system_mode_changes_nothing_and_an_unknown_mode_is_refused(tmp_path):
    assert describe_heap("system").applied is False
    with pytest.raises(ValueError, match="keep, system"):
        describe_heap("fast")
    with pytest.raises(UserError, match="--heap must be one of keep, system, got 'fast'"):
        OptimizeConfig(data_dir=tmp_path, heap="fast").validated()
