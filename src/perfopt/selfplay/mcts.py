"""PUCT Monte Carlo tree search with batched leaf evaluation. numpy only, no torch.

An evaluator is any callable taking int8 states [B, 3, 9, 9] and returning
(logits [B, 81], values [B]) as numpy arrays, values in [-1, 1] for the side to move.
Leaves are collected `batch_size` at a time; a virtual loss on every edge of a pending
path steers the next selection elsewhere, so the collected leaves are distinct. When a
selection still lands on a pending leaf (a collision) the batch is closed early and that
selection is not counted, so every move gets exactly `simulations` leaf visits whatever
the batch size.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from perfopt.selfplay.game import ACTIONS, Gomoku

Evaluator = Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]]


@dataclass
class SearchStats:
    """Counters of one or more searches."""

    leaves: int = 0  # leaf visits (simulations), terminal leaves included
    evaluations: int = 0  # positions sent to the network (roots included)
    calls: int = 0  # evaluator calls (batches)
    collisions: int = 0  # selections that hit a pending leaf and closed a batch

    def add(self, other: SearchStats) -> None:
        """Accumulate another search's counters."""
        self.leaves += other.leaves
        self.evaluations += other.evaluations
        self.calls += other.calls
        self.collisions += other.collisions


class Node:
    """A position in the tree with per-action statistics (for the side to move here)."""

    __slots__ = ("game", "priors", "visits", "value_sum", "children")

    def __init__(self, game: Gomoku) -> None:
        self.game = game
        self.priors: np.ndarray | None = None  # set on expansion
        self.visits = np.zeros(ACTIONS, dtype=np.float64)
        self.value_sum = np.zeros(ACTIONS, dtype=np.float64)
        self.children: dict[int, Node] = {}

    def expand(self, logits: np.ndarray) -> None:
        """Set priors: softmax of the logits over the legal moves."""
        legal = self.game.legal_mask()
        z = np.where(legal, logits.astype(np.float64), -np.inf)
        z = np.exp(z - z.max())
        self.priors = z / z.sum()


class MCTS:
    """PUCT search for one game at a time (one instance per worker)."""

    def __init__(
        self,
        evaluator: Evaluator,
        simulations: int,
        batch_size: int = 8,
        c_puct: float = 1.5,
        virtual_loss: float = 1.0,
        dirichlet_alpha: float = 0.3,
        noise_fraction: float = 0.25,
    ) -> None:
        self.evaluator = evaluator
        self.simulations = simulations
        self.batch_size = batch_size
        self.c_puct = c_puct
        self.virtual_loss = virtual_loss
        self.dirichlet_alpha = dirichlet_alpha
        self.noise_fraction = noise_fraction
        self.stats = SearchStats()

    def _evaluate(self, nodes: list[Node]) -> np.ndarray:
        states = np.stack([n.game.encode() for n in nodes])
        logits, values = self.evaluator(states)
        self.stats.calls += 1
        self.stats.evaluations += len(nodes)
        for node, row in zip(nodes, logits, strict=True):
            node.expand(row)
        return np.asarray(values, dtype=np.float64).reshape(-1)

    def _select(self, root: Node) -> tuple[list[tuple[Node, int]], Node]:
        """Walk from the root by PUCT to an unexpanded or terminal node."""
        node, path = root, []
        while node.priors is not None and not node.game.done:
            n = node.visits
            q = np.divide(node.value_sum, n, out=np.zeros_like(n), where=n > 0)
            u = self.c_puct * node.priors * math.sqrt(n.sum() + 1.0) / (1.0 + n)
            score = np.where(node.priors > 0, q + u, -np.inf)
            action = int(np.argmax(score))
            child = node.children.get(action)
            if child is None:
                game = node.game.copy()
                game.play(action)
                child = node.children[action] = Node(game)
            path.append((node, action))
            node = child
        return path, node

    def _virtual(self, path: list[tuple[Node, int]], sign: float) -> None:
        vl = sign * self.virtual_loss
        for node, action in path:
            node.visits[action] += vl
            node.value_sum[action] -= vl

    @staticmethod
    def _backup(path: list[tuple[Node, int]], value: float) -> None:
        """value is for the side to move at the leaf; each edge stores its mover's view."""
        for node, action in reversed(path):
            value = -value
            node.visits[action] += 1.0
            node.value_sum[action] += value

    def search(self, game: Gomoku, rng: np.random.Generator) -> np.ndarray:
        """Run `simulations` leaf visits from game; return the root's visit counts [81]."""
        root = Node(game.copy())
        self._evaluate([root])
        if self.noise_fraction > 0:
            legal = root.priors > 0
            noise = rng.dirichlet(np.full(int(legal.sum()), self.dirichlet_alpha))
            root.priors[legal] = (1 - self.noise_fraction) * root.priors[
                legal
            ] + self.noise_fraction * noise
        done = 0
        while done < self.simulations:
            pending: list[tuple[list[tuple[Node, int]], Node]] = []
            pending_ids: set[int] = set()
            while len(pending) < self.batch_size and done + len(pending) < self.simulations:
                path, leaf = self._select(root)
                if leaf.game.done:  # known result: no network needed
                    self._backup(path, 0.0 if leaf.game.winner == 0 else -1.0)
                    done += 1
                    self.stats.leaves += 1
                    continue
                if id(leaf) in pending_ids:
                    self.stats.collisions += 1
                    break
                self._virtual(path, +1.0)
                pending.append((path, leaf))
                pending_ids.add(id(leaf))
            if not pending:
                continue
            values = self._evaluate([leaf for _, leaf in pending])
            for (path, _), value in zip(pending, values, strict=True):
                self._virtual(path, -1.0)
                self._backup(path, float(value))
            done += len(pending)
            self.stats.leaves += len(pending)
        return root.visits.copy()
