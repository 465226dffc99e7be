"""Instruction counts under callgrind: the client-request window, the dump parser, the
check against a baseline, and the kernels' counts themselves (real valgrind, real cc)."""

from __future__ import annotations

import subprocess

import pytest

from perfopt.backtest.c_loop import find_compiler
from perfopt.backtest.instructions import (
    LOOSE,
    SHIM,
    STRICT,
    CountUnavailable,
    callgrind_missing,
    compare,
    count_kernels,
    margin,
    parse_dumps,
    target,
)

LOOP = r"""
#include <stdlib.h>
void perfopt_cg_start(void);
void perfopt_cg_stop(const char *label);
volatile double sink;
static void spin(long n) { double x = 1.0; for (long i = 0; i < n; i++) x = x * 1.0000001 + 1e-9; sink = x; }
int main(int argc, char **argv) {
    long n = atol(argv[1]);
    spin(1000);                                     /* outside any window: not counted */
    perfopt_cg_start(); spin(n); perfopt_cg_stop("spin n");
    perfopt_cg_start(); spin(2 * n); perfopt_cg_stop("spin 2n");
    return 0;
}
"""


@pytest.fixture(scope="module")
def callgrind():
    reason = callgrind_missing()
    if reason:
        pytest.skip(reason)


def test_window_counts_only_what_runs_inside_it(callgrind, tmp_path):
    (tmp_path / "spin.c").write_text(SHIM + LOOP)
    exe = tmp_path / "spin"
    subprocess.run([find_compiler(), "-O1", str(tmp_path / "spin.c"), "-o", str(exe)], check=True)
    dumps = tmp_path / "dumps"
    dumps.mkdir()
    subprocess.run(
        ["valgrind", "--tool=callgrind", "--instr-atstart=no", "--collect-atstart=no",
         f"--callgrind-out-file={dumps}/callgrind.out.%p", str(exe), "100000"],
        check=True, capture_output=True, timeout=120,
    )  # fmt: skip
    counts = parse_dumps(dumps)
    assert set(counts) == {"spin n", "spin 2n"}
    # the second window runs twice the iterations; program start-up is in neither
    assert 1.9 < counts["spin 2n"] / counts["spin n"] < 2.1
    assert counts["spin n"] > 100_000


def baseline(count: int, tgt: str | None = None) -> dict:
    return {"target": tgt or target(), "counts": {"fused 500x756": count, "two-kernel 500x756": 1}}


def test_compare_fails_the_fused_kernel_only_above_the_margin():
    now = {"target": target(), "counts": {"fused 500x756": 130, "two-kernel 500x756": 999}}
    assert compare(now, baseline(100), 1.25) != []
    assert compare(now, baseline(110), 1.25) == []  # 1.18x: inside the margin
    assert "1.300x" in compare(now, baseline(100), 1.25)[0]


def test_margin_is_strict_with_the_baselines_toolchain_only():
    here = {"numba": "1.0", "llvmlite": "2.0"}
    assert margin(here, {"numba": "1.0", "llvmlite": "2.0"})[0] == STRICT
    fail_above, why = margin(here, {"numba": "0.9", "llvmlite": "2.0"})
    assert fail_above == LOOSE and "refresh the baseline" in why


def test_compare_refuses_a_baseline_of_another_target():
    now = {"target": target(), "counts": {"fused 500x756": 100}}
    with pytest.raises(CountUnavailable, match="record a baseline here"):
        compare(now, baseline(100, tgt="some-other-cpu"), 1.25)


@pytest.mark.slow
def test_kernel_counts_grow_with_the_panel_and_leave_set_up_out(callgrind):
    counts = count_kernels(sizes=((40, 120), (80, 120)))["counts"]
    assert set(counts) == {"fused 40x120", "two-kernel 40x120", "fused 80x120", "two-kernel 80x120"}
    # twice the tickers, twice the bars: imports and the cache load would flatten this
    assert 1.6 < counts["fused 80x120"] / counts["fused 40x120"] < 2.4
    assert 1.6 < counts["two-kernel 80x120"] / counts["two-kernel 40x120"] < 2.4
