"""asv suites for the backtest: kernels, end-to-end runs, access patterns, sharding."""

from __future__ import annotations

import time

try:
    import perfopt.backtest as backtest
except ImportError:  # a commit from before the backtest existed
    backtest = None

from ._data import make_data_folder

SIZES = {"small": (100, 252), "seed": (500, 756)}


def _require(name: str) -> None:
    if backtest is None or not hasattr(backtest, name):
        raise NotImplementedError(f"perfopt.backtest.{name} is not in this commit")


class Kernels:
    """Steady-state RSI and simulation (compile excluded: setup warms the kernels)."""

    params = (["numba", "reference"], list(SIZES))
    param_names = ["engine", "size"]

    def setup_cache(self):
        return {size: make_data_folder(f"bt-{size}", *shape) for size, shape in SIZES.items()}

    def setup(self, folders, engine, size):
        _require("run_backtest")
        from perfopt.backtest.engine import load_kernels
        from perfopt.data import open_store

        if engine == "reference" and size == "seed":
            raise NotImplementedError("the reference loop at seed size belongs to time_end_to_end")
        self.kernels, _ = load_kernels(engine)
        self.close = open_store(folders[size], "hdf5").load("close")

    def time_signals_and_simulate(self, folders, engine, size):
        rsi = self.kernels.rsi(self.close, 14)
        self.kernels.simulate(self.close, rsi, 30.0, 70.0, 0.001, 1000.0)


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
        backtest.run_backtest(self.config)  # compile / load the numba cache first

    def time_end_to_end(self, folder, source, engine):
        backtest.run_backtest(self.config)

    def peakmem_end_to_end(self, folder, source, engine):
        backtest.run_backtest(self.config)


class AccessAndSharding:
    """Ratios measured inside one benchmark: the IO cure and the parallel gain."""

    timeout = 300

    def setup_cache(self):
        return {"small": make_data_folder("bt-small", *SIZES["small"]), "seed": make_data_folder("bt-seed", *SIZES["seed"])}

    def setup(self, folders):
        _require("run_backtest")

    def track_naive_over_bulk_sqlite(self, folders):
        """How many times slower naive per-ticker-per-date queries are than one bulk read."""
        folder = folders["small"]
        naive = _seconds(backtest.BacktestConfig(folder, source="sqlite", access="naive"))
        bulk = _seconds(backtest.BacktestConfig(folder, source="sqlite", access="bulk"))
        return naive / bulk

    track_naive_over_bulk_sqlite.unit = "x"

    def track_reference_2_workers_speedup(self, folders):
        """Reference engine at seed size, fork: 1 worker time / 2 workers (bounded by cores)."""
        folder = folders["seed"]
        one = _seconds(backtest.BacktestConfig(folder, engine="reference", source="hdf5"))
        two = _seconds(
            backtest.BacktestConfig(folder, engine="reference", source="hdf5", workers=2, start_method="fork")
        )
        return one / two

    track_reference_2_workers_speedup.unit = "x"


def _seconds(config) -> float:
    start = time.perf_counter()
    backtest.run_backtest(config)
    return time.perf_counter() - start
