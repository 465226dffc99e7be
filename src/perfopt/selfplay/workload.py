"""The self-play workload for the harness: one cell = one self-play run.

Default sizes (16 games, 32 simulations per move, a 38k-parameter net) make a serial
CPU cell take a few seconds; `games`, `simulations` and `channels` scale it. Importing
this module imports no torch; `run` does.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar

from perfopt.machine import START_METHODS, cuda_present, logical_cores, resolved_device
from perfopt.workload import Measurement, Workload


class SelfplayWorkload(Workload):
    """9x9 five-in-a-row self-play with batched MCTS: serial, threads, processes, server."""

    name: ClassVar[str] = "selfplay"
    preload: ClassVar[tuple[str, ...]] = ("torch", "perfopt.selfplay.runner")
    axes: ClassVar[Mapping[str, list[Any]]] = {
        "parallel": ["serial", "process", "thread", "server"],
        "workers": [1, 2, 3, 4, 6, 8],
        "start_method": list(START_METHODS),
        "mcts_batch_size": [1, 4, 8, 16, 32],
        "compile": [False, True],
        "compile_mode": ["default", "reduce-overhead", "max-autotune-no-cudagraphs", "max-autotune"],
        "amp": [False, True],
        "device": ["cpu", "cuda", "auto"],
        "torch_threads": [1, 2, 4],
        "games": [2, 4, 8, 16, 32, 100, 500],
        "simulations": [16, 32, 64, 100, 200, 400, 800],
        "channels": [16, 32, 64, 128],
        "seed": [0, 1, 2],
    }
    problem_axes: ClassVar[Mapping[str, str]] = {
        "games": "a different number of games",
        "simulations": "a different search depth",
        "channels": "a different network",
        "seed": "a different random draw",
    }
    defaults: ClassVar[Mapping[str, Any]] = {
        "parallel": "serial",
        "workers": 1,
        "start_method": "forkserver",
        "mcts_batch_size": 8,
        "compile": False,
        "compile_mode": "default",
        "amp": False,
        "device": "auto",
        "torch_threads": 1,
        "games": 16,
        "simulations": 32,
        "channels": 32,
        "seed": 0,
    }

    def skip_reason(self, params: Mapping[str, Any]) -> str | None:
        """Refuse invalid, unsafe or oversubscribed combinations."""
        p = {**self.defaults, **params}
        cores = logical_cores()
        device = resolved_device(p["device"])
        mode, workers, threads = p["parallel"], int(p["workers"]), int(p["torch_threads"])
        if device == "cuda" and not cuda_present():
            return "device=cuda: no CUDA GPU on this machine"
        if mode == "serial" and workers != 1:
            return "serial runs one worker; workers > 1 needs process, thread or server"
        if mode == "process" and p["start_method"] == "fork":
            if threads > 1:
                return "fork with more than one torch thread per worker can hang the child (measured here)"
            if device == "cuda":
                return "CUDA cannot be used in forked workers; use spawn or forkserver"
        busy = workers * threads if mode in ("process", "thread") else max(workers, threads)
        if busy > cores:
            return f"{workers} worker(s) x {threads} torch thread(s) exceed {cores} cores (oversubscription)"
        return None

    def run(self, params: Mapping[str, Any], cache_dir: Path, workdir: Path) -> Measurement:
        """Play the cell's games and report games/s, positions/s, start-up, bytes and memory."""
        from perfopt.selfplay.runner import SelfplayConfig, run_selfplay

        p = {**self.defaults, **params}
        cfg = SelfplayConfig(
            games=int(p["games"]),
            simulations=int(p["simulations"]),
            mcts_batch_size=int(p["mcts_batch_size"]),
            parallel=p["parallel"],
            workers=int(p["workers"]),
            start_method=p["start_method"],
            device=p["device"],
            compile=bool(p["compile"]),
            compile_mode=str(p["compile_mode"]),
            amp=bool(p["amp"]),
            seed=int(p["seed"]),
            channels=int(p["channels"]),
            torch_threads=int(p["torch_threads"]),
            out=Path(workdir),
        )
        result = run_selfplay(cfg)
        d = result.to_dict()
        return Measurement(
            seconds=result.seconds,
            stages={"compile": result.compile_s},
            metrics=result.metrics(),
            info={
                "device": result.device,
                "startup_s": result.startup_s,
                "peak_rss_bytes": result.peak_rss_bytes,
                "search": d["stats"],
                "games": result.games,
                "moves": result.positions,
                "records": result.out_file,
            },
        )
