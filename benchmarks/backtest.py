"""asv suites for the backtest: kernels, the C yardstick, end-to-end runs, access, sharding.

Set-up (data, numba compile or cache load, the C build) happens in setup_cache/setup and
one warm-up call; the timed bodies run the work only. Each time_ body returns the
workload's own timer for what it ran (asv ignores it; tests/bench/test_asv_suites.py
checks the two agree).
"""

from __future__ import annotations

import importlib
import statistics

try:
    import perfopt.backtest as backtest
except ImportError:  # a commit from before the backtest existed
    backtest = None

from ._data import make_data_folder

SIZES = {"small": (100, 252), "seed": (500, 756)}


def _require(name: str) -> None:
    if backtest is None or not hasattr(backtest, name):
        raise NotImplementedError(f"perfopt.backtest.{name} is not in this commit")


def _module(name: str):
    try:
        return importlib.import_module(name)
    except ImportError:
        raise NotImplementedError(f"{name} is not in this commit") from None


class Kernels:
    """Steady-state signals + simulation per engine (compile excluded: setup warms up)."""

    params = (["numba", "reference"], list(SIZES))
    param_names = ["engine", "size"]

    def setup_cache(self):
        return {size: make_data_folder(f"bt-{size}", *shape) for size, shape in SIZES.items()}

    def setup(self, folders, engine, size):
        _require("run_backtest")
        from perfopt.backtest.steps import load_kernels
        from perfopt.data import open_store

        if engine == "reference" and size == "seed":
            raise NotImplementedError("the reference loop at seed size belongs to time_end_to_end")
        self.kernels, _ = load_kernels(engine)
        self.close = open_store(folders[size], "hdf5").load("close")
        self.config = backtest.BacktestConfig(folders[size])
        self.time_signals_and_simulate(folders, engine, size)  # warm-up

    def time_signals_and_simulate(self, folders, engine, size):
        from perfopt.backtest.steps import simulate_close
        from perfopt.stage_timer import StageTimer

        timer = StageTimer()
        simulate_close(self.close, self.config, self.kernels, 1000.0, timer)
        return sum(timer.as_dict().values())


class KernelPaths:
    """The fused kernel against the two-kernel path and the C loop, seed size (500 x 756).

    The track_ ratios come from rounds interleaved in one process (perfopt.backtest.
    kernel_race): machine load moves both sides alike, so they hold on a busy machine.
    """

    timeout = 120

    def setup_cache(self):
        return make_data_folder("bt-seed", *SIZES["seed"])

    def setup(self, folder):
        kernel_race = _module("perfopt.backtest.kernel_race")
        from perfopt.data import open_store

        self.close = open_store(folder, "hdf5").load("close")
        self.runs, self.info = kernel_race.paths(self.close)
        for run in self.runs.values():  # warm-up (paths() already compiled and checked)
            run()
        self.kernel_race = kernel_race

    def time_fused(self, folder):
        self.runs["fused"]()

    def time_two_kernel(self, folder):
        self.runs["two-kernel"]()

    def track_fused_over_c_loop(self, folder):
        """Fused numba kernel / the faster C loop, median of 20 paired rounds."""
        if self.info.c_skipped:
            raise NotImplementedError(self.info.c_skipped)
        result = self.kernel_race.race(self.close, rounds=20, warmup=1)
        return result.ratio("fused", result.c_best())[0]

    track_fused_over_c_loop.unit = "x"

    def track_two_kernel_over_fused(self, folder):
        """Two-kernel path / fused kernel, median of 20 paired rounds."""
        result = self.kernel_race.race(self.close, rounds=20, warmup=1, with_c=False)
        return result.ratio("two-kernel", "fused")[0]

    track_two_kernel_over_fused.unit = "x"


class EndToEnd:
    """load + signals + simulate + metrics at the seed's size, from each store."""

    params = (["hdf5", "parquet", "sqlite"], ["numba", "reference"])
    param_names = ["source", "engine"]
    timeout = 120

    def setup_cache(self):
        return make_data_folder("bt-seed", *SIZES["seed"])

    def setup(self, folder, source, engine):
        _require("run_backtest")
        self.config = backtest.BacktestConfig(folder, source=source, engine=engine)
        backtest.run_backtest(self.config)  # compile / load the numba cache, open the store

    def time_end_to_end(self, folder, source, engine):
        return backtest.run_backtest(self.config).stages["total"]

    def peakmem_end_to_end(self, folder, source, engine):
        backtest.run_backtest(self.config)


class AccessAndSharding:
    """Ratios of the workload's own totals, warm, interleaved: the IO cure, the parallel gain."""

    timeout = 300

    def setup_cache(self):
        return {
            "small": make_data_folder("bt-small", *SIZES["small"]),
            "seed": make_data_folder("bt-seed", *SIZES["seed"]),
        }

    def setup(self, folders):
        _require("run_backtest")
        # Warm up what a first call pays (numba's cache load, sqlite and h5py imports) so
        # neither side of a ratio carries it.
        backtest.run_backtest(backtest.BacktestConfig(folders["small"], source="sqlite"))
        backtest.run_backtest(
            backtest.BacktestConfig(folders["small"], source="hdf5", engine="reference")
        )

    def track_naive_over_bulk_sqlite(self, folders):
        """How many times slower naive per-ticker-per-date queries are than one bulk read."""
        folder = folders["small"]
        naive = backtest.BacktestConfig(folder, source="sqlite", access="naive")
        bulk = backtest.BacktestConfig(folder, source="sqlite", access="bulk")
        return _ratio_of_medians(naive, bulk, repeats=3)

    track_naive_over_bulk_sqlite.unit = "x"

    def track_reference_2_workers_speedup(self, folders):
        """Reference engine at seed size, fork: 1 worker total / 2 workers total."""
        folder = folders["seed"]
        one = backtest.BacktestConfig(folder, engine="reference", source="hdf5")
        two = backtest.BacktestConfig(
            folder, engine="reference", source="hdf5", workers=2, start_method="fork"
        )
        return _ratio_of_medians(one, two, repeats=2)

    track_reference_2_workers_speedup.unit = "x"


def _ratio_of_medians(slow, fast, repeats: int) -> float:
    """median total(slow) / median total(fast), the two run alternately."""
    totals: dict[str, list[float]] = {"slow": [], "fast": []}
    for _ in range(repeats):
        totals["slow"].append(backtest.run_backtest(slow).stages["total"])
        totals["fast"].append(backtest.run_backtest(fast).stages["total"])
    return statistics.median(totals["slow"]) / statistics.median(totals["fast"])
