"""Play one self-play game with MCTS and keep its record. numpy only, no torch."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from perfopt.selfplay.game import ACTIONS, Gomoku
from perfopt.selfplay.mcts import MCTS, Evaluator, SearchStats

TEMPERATURE_MOVES = 8  # sample moves by visit count for the opening, then play the best


@dataclass
class GameRecord:
    """One finished game: every position, its visit-count policy and the outcome."""

    index: int
    states: np.ndarray  # int8 [T, 3, 9, 9], from the side to move
    policies: np.ndarray  # float32 [T, 81], root visit counts normalised
    players: np.ndarray  # int8 [T], +1 Black / -1 White to move
    moves: np.ndarray  # int16 [T]
    winner: int  # +1, -1, or 0 for a draw

    @property
    def outcomes(self) -> np.ndarray:
        """float32 [T]: +1 when the side to move went on to win, -1 lost, 0 draw."""
        return (self.players.astype(np.float32) * self.winner).astype(np.float32)


def game_rng(seed: int, index: int) -> np.random.Generator:
    """The random stream of game `index`: the same whichever worker plays it."""
    return np.random.default_rng([seed, index])


def play_game(
    evaluator: Evaluator,
    index: int,
    seed: int,
    simulations: int,
    batch_size: int,
    stats: SearchStats | None = None,
    on_move: Callable[[], None] | None = None,
) -> GameRecord:
    """Play game `index` to the end; add search counters to stats when given."""
    rng = game_rng(seed, index)
    mcts = MCTS(evaluator, simulations, batch_size)
    game = Gomoku()
    states, policies, players, moves = [], [], [], []
    while not game.done:
        visits = mcts.search(game, rng)
        policy = visits / visits.sum()
        if game.moves < TEMPERATURE_MOVES:
            action = int(rng.choice(ACTIONS, p=policy))
        else:
            action = int(np.argmax(visits))
        states.append(game.encode())
        policies.append(policy.astype(np.float32))
        players.append(game.to_move)
        moves.append(action)
        game.play(action)
        if on_move is not None:
            on_move()
    if stats is not None:
        stats.add(mcts.stats)
    return GameRecord(
        index=index,
        states=np.stack(states),
        policies=np.stack(policies),
        players=np.asarray(players, dtype=np.int8),
        moves=np.asarray(moves, dtype=np.int16),
        winner=int(game.winner),
    )


def save_records(records: Sequence[GameRecord], path: Path) -> Path:
    """Write games to one .npz: positions concatenated, game_index/lengths to split them."""
    records = sorted(records, key=lambda r: r.index)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(
        path,
        states=np.concatenate([r.states for r in records]),
        policies=np.concatenate([r.policies for r in records]),
        outcomes=np.concatenate([r.outcomes for r in records]),
        players=np.concatenate([r.players for r in records]),
        moves=np.concatenate([r.moves for r in records]),
        game_index=np.concatenate(
            [np.full(len(r.moves), r.index, dtype=np.int32) for r in records]
        ),
        lengths=np.asarray([len(r.moves) for r in records], dtype=np.int32),
        winners=np.asarray([r.winner for r in records], dtype=np.int8),
    )
    return path
