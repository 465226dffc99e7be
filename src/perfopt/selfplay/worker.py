"""The child side of process and server self-play: a game loop speaking over a Pipe.

This module imports no torch at module level: server-mode workers never import it (the
parent evaluates their leaves), so they start without paying torch's import. Every
message is pickled by hand so both sides can count the bytes they move.

Protocol (tuples): parent -> worker ("job", dict), ("play", game_index), ("stop",),
("eval_result", logits, values); worker -> parent ("ready", info), ("game", record,
stats), ("eval", states), ("done", info), ("error", traceback_text).
"""

from __future__ import annotations

import os
import pickle
import signal
import time
import traceback
from dataclasses import asdict
from multiprocessing.connection import Connection
from typing import Any

import numpy as np
import psutil

from perfopt.selfplay.mcts import SearchStats
from perfopt.selfplay.play import play_game


def send(conn: Connection, msg: tuple[Any, ...]) -> int:
    """Pickle and send one message; return the bytes sent."""
    data = pickle.dumps(msg, protocol=pickle.HIGHEST_PROTOCOL)
    conn.send_bytes(data)
    return len(data)


def recv(conn: Connection) -> tuple[tuple[Any, ...], int]:
    """Receive one message; return it and its size in bytes."""
    data = conn.recv_bytes()
    return pickle.loads(data), len(data)


class RemoteEvaluator:
    """Evaluator that sends leaf batches to the model server and waits for the answer."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def __call__(self, states: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        send(self.conn, ("eval", states))
        msg, _ = recv(self.conn)
        if msg[0] != "eval_result":
            raise RuntimeError(f"expected eval_result from the model server, got {msg[0]!r}")
        return msg[1], msg[2]


def _local_evaluator(job: dict[str, Any]) -> Any:
    """Build this worker's own network (process mode)."""
    import torch

    # First torch call of the child, before any op: a forked child that runs torch with
    # more than one thread after the parent started its pool hangs (measured here).
    torch.set_num_threads(job["torch_threads"])
    from perfopt.selfplay.net import NetEvaluator, net_from_bytes

    net = net_from_bytes(job["weights"], job["channels"], job["blocks"])
    return NetEvaluator(
        net,
        job["device"],
        job["amp"],
        job["compile"],
        job.get("compile_mode", "default"),
        (job["batch_size"],),
    )


def worker_main(index: int, conn: Connection, mode: str) -> None:
    """Entry point of worker `index`: set up, then play the games the parent hands out."""
    # Ctrl-C reaches the whole process group; the parent alone handles it and stops us.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    proc = psutil.Process()
    peak = proc.memory_info().rss
    try:
        job, _ = recv(conn)
        job = job[1]
        t0 = time.perf_counter()
        evaluator = _local_evaluator(job) if mode == "process" else RemoteEvaluator(conn)
        peak = max(peak, proc.memory_info().rss)
        send(
            conn,
            (
                "ready",
                {
                    "pid": os.getpid(),
                    "setup_s": time.perf_counter() - t0,
                    "compile_s": getattr(evaluator, "compile_s", 0.0),
                },
            ),
        )
        while True:
            msg, _ = recv(conn)
            if msg[0] == "stop":
                break
            stats = SearchStats()

            def sample() -> None:
                nonlocal peak
                peak = max(peak, proc.memory_info().rss)

            record = play_game(
                evaluator, msg[1], job["seed"], job["simulations"], job["batch_size"], stats, sample
            )
            send(conn, ("game", record, asdict(stats)))
        send(conn, ("done", {"peak_rss": max(peak, proc.memory_info().rss)}))
    except (EOFError, BrokenPipeError):
        os._exit(1)  # the parent is gone: nothing to report to
    except BaseException:
        try:
            send(conn, ("error", traceback.format_exc()))
        finally:
            os._exit(1)
