"""Count the instructions the numba kernels execute, with valgrind's callgrind.

A wall-clock figure on a shared 2-core VM moves by tens of percent with the neighbours;
an instruction count does not move at all. `count_kernels` runs a child Python under
`valgrind --tool=callgrind` with instrumentation off, and the child switches it on only
around each kernel call through callgrind's client requests (a tiny C shim built with
the system compiler against valgrind/callgrind.h), so imports, data generation and the
numba cache load are not counted.

The count depends on the code numba generates, so the target is pinned: on x86-64 the
kernels are compiled for `x86-64-v3` (AVX2, FMA), which valgrind runs, whatever the host
CPU; elsewhere for the host (and a baseline from another target is refused). The
kernels are compiled in a first child without valgrind into a private numba cache, so
the counted child only loads them. `callgrind_missing()` says what is missing, if
anything: valgrind, a C compiler, or the header.

perf stat is not used: it counts a whole process, and the kernels run inside a Python
process whose start-up alone is a thousand times a kernel call; on VMs it often cannot
read the hardware counters at all.
"""

from __future__ import annotations

import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from perfopt.backtest.c_loop import find_compiler

PINNED_TARGETS = {"x86_64": "x86-64-v3", "AMD64": "x86-64-v3"}
HEADER = "valgrind/callgrind.h"
SHIM = r"""
#include <valgrind/callgrind.h>
void perfopt_cg_start(void) { CALLGRIND_START_INSTRUMENTATION; CALLGRIND_ZERO_STATS; CALLGRIND_TOGGLE_COLLECT; }
void perfopt_cg_stop(const char *label) { CALLGRIND_TOGGLE_COLLECT; CALLGRIND_DUMP_STATS_AT(label); CALLGRIND_STOP_INSTRUMENTATION; }
int perfopt_cg_running(void) { return RUNNING_ON_VALGRIND; }
"""
DEFAULT_SIZES = ((500, 756),)


class CountUnavailable(RuntimeError):
    """callgrind cannot count here; the message says what is missing."""


def target() -> str:
    """The numba CPU target the counts are taken for (pinned on x86-64)."""
    return PINNED_TARGETS.get(platform.machine(), f"host-{platform.machine()}")


def callgrind_missing() -> str | None:
    """None when valgrind, a C compiler and valgrind/callgrind.h are all here; else why not."""
    if shutil.which("valgrind") is None:
        return "valgrind is not installed (apt-get install valgrind): instruction counts skipped"
    compiler = find_compiler()
    if compiler is None:
        return "no C compiler ($CC, cc, gcc, clang) to build the callgrind shim: skipped"
    probe = subprocess.run(
        [compiler, "-E", "-x", "c", "-"],
        input=f"#include <{HEADER}>\n",
        capture_output=True,
        text=True,
        timeout=60,
    )
    if probe.returncode != 0:
        return f"{compiler} cannot find <{HEADER}> (valgrind's development headers): skipped"
    return None


def _environment(cache_dir: Path) -> dict[str, str]:
    env = dict(os.environ, NUMBA_CACHE_DIR=str(cache_dir))
    pinned = PINNED_TARGETS.get(platform.machine())
    if pinned:
        # an empty feature list: the CPU name alone decides, the host's features do not
        env.update(NUMBA_CPU_NAME=pinned, NUMBA_CPU_FEATURES="")
    return env


def _versions() -> dict[str, str]:
    import llvmlite
    import numba

    out = subprocess.run(["valgrind", "--version"], capture_output=True, text=True, timeout=60)
    return {"numba": numba.__version__, "llvmlite": llvmlite.__version__,
            "valgrind": out.stdout.strip()}  # fmt: skip


def parse_dumps(folder: Path) -> dict[str, int]:
    """Read callgrind dump files: {client-request label: instructions (Ir) in that dump}."""
    counts: dict[str, int] = {}
    for path in sorted(folder.glob("callgrind.out*")):
        text = path.read_text(errors="replace")
        label = re.search(r"^desc: Trigger: Client Request: (.+)$", text, re.M)
        total = re.search(r"^(?:totals|summary): (\d+)", text, re.M)
        if label and total:
            counts[label.group(1).strip()] = int(total.group(1))
    return counts


def count_kernels(sizes=DEFAULT_SIZES, timeout: float = 600.0) -> dict[str, Any]:
    """Instructions per call of the fused kernel and the two-kernel path at each
    (tickers, dates) size, on the seed's generator (seed 7); raise CountUnavailable."""
    reason = callgrind_missing()
    if reason:
        raise CountUnavailable(reason)
    with tempfile.TemporaryDirectory(prefix="perfopt-callgrind-") as tmp:
        tmp_path = Path(tmp)
        shim = tmp_path / "cg_shim.so"
        source = tmp_path / "cg_shim.c"
        source.write_text(SHIM)
        built = subprocess.run(
            [find_compiler() or "cc", "-O2", "-fPIC", "-shared", str(source), "-o", str(shim)],
            capture_output=True,
            text=True,
            timeout=120,
        )
        if built.returncode != 0:
            raise CountUnavailable(
                f"the callgrind shim did not build: {built.stderr.strip()[:200]}"
            )
        env = _environment(tmp_path / "numba-cache")
        child = [sys.executable, "-m", "perfopt.backtest._callgrind_child", str(shim),
                 json.dumps([list(s) for s in sizes])]  # fmt: skip
        warm = subprocess.run(child + ["--warm"], env=env, capture_output=True, text=True,
                              timeout=timeout)  # fmt: skip
        if warm.returncode != 0:
            raise RuntimeError(f"the kernels did not compile for {target()}: {warm.stderr[-800:]}")
        dumps = tmp_path / "dumps"
        dumps.mkdir()
        run = subprocess.run(
            ["valgrind", "--tool=callgrind", "--instr-atstart=no", "--collect-atstart=no",
             f"--callgrind-out-file={dumps}/callgrind.out.%p", *child],
            env=env, capture_output=True, text=True, timeout=timeout,
        )  # fmt: skip
        if run.returncode != 0:
            raise RuntimeError(f"the kernels failed under callgrind: {run.stderr[-800:]}")
        counts = parse_dumps(dumps)
    expected = {f"{kernel} {t}x{d}" for t, d in sizes for kernel in ("fused", "two-kernel")}
    if set(counts) != expected:
        raise RuntimeError(
            f"callgrind dumps {sorted(counts)} are not the expected {sorted(expected)}"
        )
    return {"target": target(), **_versions(), "counts": counts}


STRICT = 1.05  # same numba and llvmlite as the baseline: counts repeat to ~50 instructions
LOOSE = 1.25  # another numba or llvmlite: its code may differ a little without regressing


def margin(current: dict[str, Any], baseline: dict[str, Any]) -> tuple[float, str]:
    """The ratio above which the fused kernel's count fails, and why that one.

    With the baseline's toolchain the count is exact, so 5% more instructions is a change
    of the code (eight extra divisions per bar, which made the kernel 2x slower, added
    7-8%); after a numba or llvmlite upgrade only a large change is a clear regression.
    """
    same = all(current.get(k) == baseline.get(k) for k in ("numba", "llvmlite"))
    if same:
        return STRICT, f"same numba/llvmlite as the baseline: fails above {STRICT}x"
    return LOOSE, (
        f"numba {current.get('numba')}/llvmlite {current.get('llvmlite')} here, "
        f"{baseline.get('numba')}/{baseline.get('llvmlite')} in the baseline: fails above "
        f"{LOOSE}x; refresh the baseline (docs/benchmarks.md)"
    )


def compare(current: dict[str, Any], baseline: dict[str, Any], fail_above: float) -> list[str]:
    """Regressions of the fused kernel's counts above baseline x fail_above, as lines;
    raise CountUnavailable when the baseline was taken for another target."""
    if baseline.get("target") != current["target"]:
        raise CountUnavailable(
            f"the baseline counts are for {baseline.get('target')}, this machine compiles for "
            f"{current['target']}: record a baseline here (scripts/kernel_instructions.py --write)"
        )
    failures = []
    for label, count in current["counts"].items():
        if not label.startswith("fused ") or label not in baseline["counts"]:
            continue
        ratio = count / baseline["counts"][label]
        if ratio > fail_above:
            failures.append(
                f"{label}: {count:,} instructions, {ratio:.3f}x the baseline's "
                f"{baseline['counts'][label]:,} (fails above {fail_above}x)"
            )
    return failures
