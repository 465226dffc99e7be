"""asv suites for batched-MCTS self-play: batch size and worker modes.

setup plays once first (torch import, the network's first passes); time_games returns the
workload's own timer of the games it played.
"""

from __future__ import annotations

import os

from ._data import measure, prepared, workload

SELFPLAY = "perfopt.selfplay.workload:SelfplayWorkload"
SMALL = {"games": 4, "simulations": 16, "start_method": "fork"}


class Batching:
    """Serial self-play at MCTS batch 1, 8 and 32."""

    params = [1, 8, 32]
    param_names = ["mcts_batch_size"]
    timeout = 300

    def setup_cache(self):
        return os.path.abspath("selfplay-cache")

    def setup(self, cache, batch):
        self.wl = workload(SELFPLAY)
        self.params = prepared(self.wl, {**SMALL, "mcts_batch_size": batch}, cache)
        measure(self.wl, self.params, cache)  # warm-up

    def time_games(self, cache, batch):
        return measure(self.wl, self.params, cache).seconds

    def track_games_per_s(self, cache, batch):
        return measure(self.wl, self.params, cache).metrics["games_per_s"]

    track_games_per_s.unit = "games/s"


class Workers:
    """Games/s of 2 workers over serial, per parallel mode (bounded by the cores)."""

    params = ["process", "thread", "server"]
    param_names = ["parallel"]
    timeout = 300

    def setup_cache(self):
        return os.path.abspath("selfplay-cache")

    def setup(self, cache, parallel):
        self.wl = workload(SELFPLAY)
        self.serial = prepared(self.wl, {**SMALL, "games": 8}, cache)
        self.parallel = prepared(self.wl, {**SMALL, "games": 8, "parallel": parallel, "workers": 2}, cache)
        measure(self.wl, {**self.serial, "games": 1}, cache)  # warm-up

    def track_speedup_over_serial(self, cache, parallel):
        one = measure(self.wl, self.serial, cache).metrics["games_per_s"]
        two = measure(self.wl, self.parallel, cache).metrics["games_per_s"]
        return two / one

    track_speedup_over_serial.unit = "x"
