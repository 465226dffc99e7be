"""asv suites for the Optuna optimizer: trial throughput per storage, the IO cure, scaling.

setup runs one study first, so imports, numba's cache load and Optuna's first-call costs
stay out of the timed study; time_study returns the workload's own wall time of it.
"""

from __future__ import annotations

import os

from ._data import measure, prepared, workload

OPTIMIZE = "perfopt.optimize.workload:OptimizeWorkload"
SMALL = {"tickers": 30, "n_trials": 8, "mode": "trial", "start_method": "fork"}


class Storages:
    """Trials/s with fast (bulk) trials: where the storage, not the backtest, costs."""

    params = ["memory", "journal", "sqlite"]
    param_names = ["storage"]
    timeout = 300

    def setup_cache(self):
        return os.path.abspath("optimize-cache")

    def setup(self, cache, storage):
        self.wl = workload(OPTIMIZE)
        self.params = prepared(self.wl, {**SMALL, "storage": storage, "n_jobs": 1}, cache)
        measure(self.wl, self.params, cache)  # warm-up

    def time_study(self, cache, storage):
        return measure(self.wl, self.params, cache).seconds

    def track_storage_ms_per_trial(self, cache, storage):
        return 1e3 * measure(self.wl, self.params, cache).metrics["storage_s_per_trial"]

    track_storage_ms_per_trial.unit = "ms"


class AccessAndScaling:
    """Ratios inside one benchmark: naive vs bulk trial time, 2 vs 1 trial processes."""

    timeout = 600

    def setup_cache(self):
        return os.path.abspath("optimize-cache")

    def setup(self, cache):
        self.wl = workload(OPTIMIZE)
        self.cache = cache
        self._metrics(access="bulk", n_jobs=1, n_trials=1, storage="journal")  # warm-up

    def _metrics(self, **params):
        return measure(self.wl, prepared(self.wl, {**SMALL, **params}, self.cache), self.cache).metrics

    def track_naive_over_bulk_trial_time(self, cache):
        naive = self._metrics(access="naive", n_jobs=1, n_trials=2, storage="journal")
        bulk = self._metrics(access="bulk", n_jobs=1, n_trials=2, storage="journal")
        return naive["mean_trial_s"] / bulk["mean_trial_s"]

    track_naive_over_bulk_trial_time.unit = "x"

    def track_two_processes_speedup_naive(self, cache):
        one = self._metrics(access="naive", n_jobs=1, n_trials=4, storage="journal")
        two = self._metrics(access="naive", n_jobs=2, n_trials=4, storage="journal")
        return two["trials_per_s"] / one["trials_per_s"]

    track_two_processes_speedup_naive.unit = "x"
