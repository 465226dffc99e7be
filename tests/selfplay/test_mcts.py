"""PUCT MCTS: determinism, leaf counts with and without batching, finding a win."""

from __future__ import annotations

import numpy as np
import pytest

from perfopt.selfplay.game import ACTIONS, SIZE, Gomoku
from perfopt.selfplay.mcts import MCTS
from perfopt.selfplay.play import play_game


class UniformEvaluator:
    """Flat priors, zero value; records each batch it is given."""

    def __init__(self) -> None:
        self.batches: list[int] = []

    def __call__(self, states: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        self.batches.append(len(states))
        return np.zeros((len(states), ACTIONS), np.float32), np.zeros(len(states), np.float32)


@pytest.fixture(scope="module")
def net_evaluator():
    pytest.importorskip("torch")
    from perfopt.selfplay.net import NetEvaluator, build_net

    return NetEvaluator(build_net(seed=5, channels=8, blocks=1))


def test_fixed_seed_and_network_give_the_same_game(net_evaluator) -> None:
    a = play_game(net_evaluator, index=3, seed=11, simulations=24, batch_size=8)
    b = play_game(net_evaluator, index=3, seed=11, simulations=24, batch_size=8)
    np.testing.assert_array_equal(a.moves, b.moves)
    np.testing.assert_array_equal(a.policies, b.policies)
    c = play_game(net_evaluator, index=4, seed=11, simulations=24, batch_size=8)
    assert not np.array_equal(a.moves[:10], c.moves[:10])


@pytest.mark.parametrize("batch", [1, 8, 32])
def test_batched_and_unbatched_search_visit_the_same_number_of_leaves(
    net_evaluator, batch: int
) -> None:
    ev_calls: list[int] = []

    def counting(states: np.ndarray):
        ev_calls.append(len(states))
        return net_evaluator(states)

    game = Gomoku()
    for m in (40, 41, 31):
        game.play(m)
    mcts = MCTS(counting, simulations=64, batch_size=batch)
    visits = mcts.search(game, np.random.default_rng(0))
    assert visits.sum() == 64 and mcts.stats.leaves == 64
    assert max(ev_calls) <= batch and sum(ev_calls) == mcts.stats.evaluations
    if batch == 1:
        assert len(ev_calls) == 65  # the root plus one call per leaf
    else:
        assert len(ev_calls) < 65 / 2  # leaves really were batched


def test_virtual_loss_keeps_a_batch_distinct() -> None:
    ev = UniformEvaluator()
    mcts = MCTS(ev, simulations=32, batch_size=32, noise_fraction=0.0)
    mcts.search(Gomoku(), np.random.default_rng(0))
    # Uniform priors: without virtual loss every selection would pick the same leaf.
    assert ev.batches[1] > 1 and mcts.stats.leaves == 32


def test_search_finds_the_winning_move() -> None:
    g = Gomoku()
    for m in (0, 9 * 8, 1, 9 * 8 + 2, 2, 9 * 8 + 4, 3, 9 * 8 + 6):  # Black has 0-3 in row 0
        g.play(m)
    visits = MCTS(UniformEvaluator(), simulations=200, batch_size=8, noise_fraction=0.0).search(
        g, np.random.default_rng(1)
    )
    assert int(np.argmax(visits)) == 4


def test_game_record_is_complete_and_replays(net_evaluator) -> None:
    r = play_game(net_evaluator, index=0, seed=2, simulations=16, batch_size=4)
    g = Gomoku()
    for state, move, player in zip(r.states, r.moves, r.players, strict=True):
        np.testing.assert_array_equal(state, g.encode())
        assert player == g.to_move
        g.play(int(move))
    assert g.done and g.winner == r.winner
    np.testing.assert_allclose(r.policies.sum(axis=1), 1.0, rtol=1e-5)
    assert r.states.shape == (len(r.moves), 3, SIZE, SIZE)
    assert set(np.unique(r.outcomes)) <= {-1.0, 0.0, 1.0}


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # torch.jit internals during compile
def test_compiled_network_matches_eager() -> None:
    pytest.importorskip("torch")
    from perfopt.selfplay.net import NetEvaluator, build_net

    eager = NetEvaluator(build_net(seed=1, channels=8, blocks=1))
    compiled = NetEvaluator(build_net(seed=1, channels=8, blocks=1), compile=True)
    assert compiled.compile_s > 0
    states = np.random.default_rng(0).integers(0, 2, size=(5, 3, SIZE, SIZE)).astype(np.int8)
    for batch in (1, 5):
        for a, b in zip(eager(states[:batch]), compiled(states[:batch]), strict=True):
            np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)
