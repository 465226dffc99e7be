"""Run self-play in one of four modes and measure it.

- serial: one process plays every game.
- thread: `workers` threads share one network (torch releases the GIL in its ops;
  the MCTS itself is Python and does not).
- process: `workers` processes, each with its own copy of the network (weights sent
  pickled), started with `start_method`.
- server: `workers` processes run MCTS without torch and send leaf batches to the
  parent, which evaluates the batches that are waiting as one merged batch.

Traps handled: workers set their torch thread count before any torch op (a child
forked after the parent started torch's thread pool hangs otherwise, measured here),
fork with more than one torch thread per worker is refused, as is fork with CUDA and
workers x torch threads above the core count; a worker that dies or stays silent
raises WorkerError naming it; Ctrl-C (or any error) stops every worker.
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing as mp
import os
import signal
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from multiprocessing.connection import wait
from pathlib import Path
from typing import Any

import numpy as np
import psutil

from perfopt.selfplay.config import SelfplayConfig, WorkerError, check_config
from perfopt.selfplay.mcts import SearchStats
from perfopt.selfplay.play import GameRecord, save_records
from perfopt.selfplay.threads import run_in_threads
from perfopt.selfplay.worker import recv, send, worker_main
from perfopt.stage_timer import StageTimer
from perfopt.units import fmt_bytes, fmt_count, fmt_duration

log = logging.getLogger(__name__)
@dataclass
class SelfplayResult:
    """What a self-play run measured; records are kept out of to_dict."""

    config: dict[str, Any]
    device: str
    seconds: float
    games: int
    positions: int
    stats: SearchStats
    startup_s: list[float]
    bytes_sent: int
    peak_rss_bytes: dict[str, int]
    compile_s: float = 0.0
    out_file: str | None = None
    records: list[GameRecord] = field(default_factory=list, repr=False)

    def metrics(self) -> dict[str, float]:
        """games/s and positions evaluated/s over the whole run (start-up included)."""
        s = max(self.seconds, 1e-9)
        return {
            "games_per_s": self.games / s,
            "positions_per_s": self.stats.evaluations / s,
            "startup_s_mean": float(np.mean(self.startup_s)) if self.startup_s else 0.0,
            "bytes_sent": float(self.bytes_sent),
            "peak_rss_bytes_max": float(max(self.peak_rss_bytes.values(), default=0)),
        }

    def to_dict(self) -> dict[str, Any]:
        """JSON-serializable summary."""
        d = asdict(self)
        d.pop("records")
        d["metrics"] = self.metrics()
        d["config"] = {k: str(v) if isinstance(v, Path) else v for k, v in d["config"].items()}
        return d

    def report(self) -> str:
        """Human-readable summary."""
        m = self.metrics()
        c = self.config
        wins = [r.winner for r in self.records]
        return "\n".join(
            [
                f"{c['parallel']} x{c['workers']} ({c['start_method']}), device {self.device}, "
                f"{c['simulations']} simulations/move, MCTS batch {c['mcts_batch_size']}",
                f"{self.games} games ({wins.count(1)} Black, {wins.count(-1)} White, {wins.count(0)} draws), "
                f"{fmt_count(self.positions)} moves in {fmt_duration(self.seconds)}: {m['games_per_s']:.2f} games/s, "
                f"{fmt_count(m['positions_per_s'])} positions evaluated/s in {fmt_count(self.stats.calls)} network calls",
                f"start-up per worker: {', '.join(fmt_duration(s) for s in self.startup_s)}; "
                f"bytes between processes: {fmt_bytes(self.bytes_sent)}; "
                f"peak RSS: {', '.join(f'{k} {fmt_bytes(v)}' for k, v in self.peak_rss_bytes.items())}",
            ]
        )


def run_selfplay(
    cfg: SelfplayConfig,
    on_worker_start: Callable[[int, int], None] | None = None,
    on_game: Callable[[int], None] | None = None,
) -> SelfplayResult:
    """Play cfg.games games in cfg.parallel mode; save records under cfg.out when set.

    on_worker_start(index, pid) is called as each worker process starts (for watchers);
    on_game(games finished so far) after each game (for a progress line).
    """
    device = check_config(cfg)
    import torch

    from perfopt.selfplay.net import NetEvaluator, build_net, net_to_bytes

    if cfg.parallel != "process":
        torch.set_num_threads(cfg.torch_threads)  # this process evaluates the network
    net = build_net(cfg.seed, cfg.channels, cfg.blocks)
    # The network that this process evaluates is moved to its device (CUDA context
    # start-up) and compiled before the clock starts: games/s measures games, and the
    # compile time is reported apart. Process-mode workers build theirs during their
    # start-up, which the clock includes (as it includes starting them).
    local = cfg.parallel in ("serial", "thread", "server")
    evaluator = (
        NetEvaluator(
            net,
            device,
            cfg.amp,
            cfg.compile,
            cfg.compile_mode,
            _warm_batches(cfg),
        )
        if local
        else None
    )
    timer = StageTimer()  # "games": from the first worker's start to the last game
    with timer.stage("games"):
        if cfg.parallel in ("serial", "thread"):
            records, stats, startup, peaks = run_in_threads(cfg, evaluator, on_game)
            bytes_sent, compile_s = 0, evaluator.compile_s
        else:
            job = {
                "seed": cfg.seed,
                "simulations": cfg.simulations,
                "batch_size": cfg.mcts_batch_size,
                "torch_threads": cfg.torch_threads,
                "channels": cfg.channels,
                "blocks": cfg.blocks,
                "device": device,
                "amp": cfg.amp,
                "compile": cfg.compile,
                "compile_mode": cfg.compile_mode,
            }
            if cfg.parallel == "process":
                job["weights"] = net_to_bytes(net)
            records, stats, startup, peaks, bytes_sent, compile_s = _run_processes(
                cfg, job, evaluator, on_worker_start, on_game
            )
            if evaluator is not None:
                compile_s = evaluator.compile_s
    seconds = timer.as_dict()["games"]
    result = SelfplayResult(
        config=asdict(cfg),
        device=device,
        seconds=seconds,
        games=len(records),
        positions=sum(len(r.moves) for r in records),
        stats=stats,
        startup_s=startup,
        bytes_sent=bytes_sent,
        peak_rss_bytes=peaks,
        compile_s=compile_s,
        records=records,
    )
    if cfg.out is not None:
        result.out_file = str(save_records(records, Path(cfg.out) / "games.npz"))
    return result


def _warm_batches(cfg: SelfplayConfig) -> tuple[int, ...]:
    """Batch sizes the local network sees: the MCTS batch, merged ones in server mode."""
    if cfg.parallel == "server":
        return tuple(cfg.mcts_batch_size * k for k in range(1, cfg.workers + 1))
    return (cfg.mcts_batch_size,)


def _describe_exit(code: int | None) -> str:
    if code is None:
        return "is still running"
    if code < 0:
        return f"was killed by {signal.Signals(-code).name}"
    return f"exited with status {code}"


def _run_processes(
    cfg: SelfplayConfig,
    job: dict[str, Any],
    evaluator: Any,
    on_worker_start: Callable[[int, int], None] | None,
    on_game: Callable[[int], None] | None = None,
) -> tuple[list[GameRecord], SearchStats, list[float], dict[str, int], int, float]:
    """Start the workers, hand out games, serve evaluations (server mode), collect games."""
    ctx = mp.get_context(cfg.start_method)
    if cfg.start_method == "forkserver":
        preload = ["perfopt.selfplay.worker"]
        if cfg.parallel == "process":
            preload += ["torch", "perfopt.selfplay.net"]
        ctx.set_forkserver_preload(preload)
    procs, conns, started, heard, startup = [], [], [], [], [0.0] * cfg.workers
    finished = [False] * cfg.workers
    games_done = [0] * cfg.workers
    records: list[GameRecord] = []
    stats = SearchStats()
    peaks: dict[str, int] = {}
    compile_s = 0.0
    nbytes = 0
    next_game = 0
    proc_self = psutil.Process()
    try:
        for i in range(cfg.workers):
            parent_conn, child_conn = ctx.Pipe()
            p = ctx.Process(
                target=worker_main,
                args=(i, child_conn, cfg.parallel),
                name=f"selfplay-worker-{i}",
                daemon=True,
            )
            started.append(time.perf_counter())
            heard.append(started[-1])
            p.start()
            child_conn.close()
            procs.append(p)
            conns.append(parent_conn)
            nbytes += send(parent_conn, ("job", job))
            if on_worker_start is not None:
                on_worker_start(i, p.pid)

        def dispatch(i: int) -> None:
            nonlocal next_game, nbytes
            if next_game < cfg.games:
                nbytes += send(conns[i], ("play", next_game))
                next_game += 1
            else:
                nbytes += send(conns[i], ("stop",))

        while not all(finished):
            live = [i for i in range(cfg.workers) if not finished[i]]
            now = time.perf_counter()
            silent = [i for i in live if now - heard[i] > cfg.worker_timeout_s]
            if silent:  # each worker speaks at least once per game (per leaf batch as a client)
                i = silent[0]
                raise WorkerError(
                    f"selfplay worker {i} (pid {procs[i].pid}) sent nothing for "
                    f"{cfg.worker_timeout_s:g} s (hung?); stopped every worker"
                )
            ready = wait(
                [conns[i] for i in live] + [procs[i].sentinel for i in live],
                timeout=max(0.0, min(heard[i] for i in live) + cfg.worker_timeout_s - now) + 0.01,
            )
            evals: list[tuple[int, np.ndarray]] = []
            for i in live:
                if conns[i] not in ready:
                    continue
                try:
                    msg, size = recv(conns[i])
                except (EOFError, OSError):  # the worker's end closed: it is gone
                    procs[i].join(1.0)
                    raise WorkerError(
                        f"selfplay worker {i} (pid {procs[i].pid}) {_describe_exit(procs[i].exitcode)} "
                        f"after {games_done[i]} game(s); stopped the other workers"
                    ) from None
                nbytes += size
                heard[i] = time.perf_counter()
                kind = msg[0]
                if kind == "ready":
                    startup[i] = time.perf_counter() - started[i]
                    compile_s = max(compile_s, msg[1]["compile_s"])
                    dispatch(i)
                elif kind == "game":
                    records.append(msg[1])
                    stats.add(SearchStats(**msg[2]))
                    games_done[i] += 1
                    if on_game is not None:
                        on_game(len(records))
                    dispatch(i)
                elif kind == "eval":
                    evals.append((i, msg[1]))
                elif kind == "done":
                    finished[i] = True
                    peaks[f"worker-{i}"] = int(msg[1]["peak_rss"])
                elif kind == "error":
                    raise WorkerError(f"selfplay worker {i} (pid {procs[i].pid}) failed:\n{msg[1]}")
            if evals:  # one merged batch for every worker waiting now
                logits, values = evaluator(np.concatenate([s for _, s in evals]))
                at = 0
                for i, states in evals:
                    n = len(states)
                    nbytes += send(
                        conns[i], ("eval_result", logits[at : at + n], values[at : at + n])
                    )
                    at += n
            for i in live:
                if not finished[i] and procs[i].sentinel in ready and not conns[i].poll():
                    procs[i].join(1.0)
                    raise WorkerError(
                        f"selfplay worker {i} (pid {procs[i].pid}) {_describe_exit(procs[i].exitcode)} "
                        f"after {games_done[i]} game(s); stopped the other workers"
                    )
        if cfg.parallel == "server":
            peaks["server"] = int(proc_self.memory_info().rss)
    finally:
        _stop_all(procs)
        for c in conns:
            c.close()
    return records, stats, startup, peaks, nbytes, compile_s


def _stop_all(procs: list[Any]) -> None:
    """Stop every worker still running: terminate, then kill what ignores it."""
    for p in procs:
        if p.is_alive():
            p.terminate()
            with contextlib.suppress(ProcessLookupError):
                os.kill(
                    p.pid, signal.SIGCONT
                )  # a stopped process acts on SIGTERM only once continued
    deadline = time.monotonic() + 3.0
    for p in procs:
        p.join(max(0.0, deadline - time.monotonic()))
        if p.is_alive():
            p.kill()
            p.join(1.0)
