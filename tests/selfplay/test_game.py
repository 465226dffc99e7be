"""The rules of 9x9 five-in-a-row."""

from __future__ import annotations

import numpy as np
import pytest

from perfopt.selfplay.game import BLACK, SIZE, WHITE, Gomoku, IllegalMoveError


def _play(moves: list[int]) -> Gomoku:
    g = Gomoku()
    for m in moves:
        g.play(m)
    return g


def _idx(r: int, c: int) -> int:
    return r * SIZE + c


FILLER = [_idx(8, 0), _idx(8, 2), _idx(6, 8), _idx(8, 6)]  # White's harmless replies


@pytest.mark.parametrize(
    "line",
    [
        [_idx(0, c) for c in range(2, 7)],  # horizontal
        [_idx(r, 4) for r in range(0, 5)],  # vertical
        [_idx(i, i) for i in range(1, 6)],  # diagonal
        [_idx(i, 7 - i) for i in range(1, 6)],  # anti-diagonal
    ],
    ids=["horizontal", "vertical", "diagonal", "anti-diagonal"],
)
@pytest.mark.parametrize("last", [0, 2, 4], ids=["end", "middle", "other-end"])
def test_five_in_a_row_wins_in_every_direction(line: list[int], last: int) -> None:
    order = [m for i, m in enumerate(line) if i != last] + [line[last]]
    moves = []
    for i, m in enumerate(order):
        moves.append(m)
        if i < 4:
            moves.append(FILLER[i])
    g = Gomoku()
    for m in moves[:-1]:
        g.play(m)
        assert not g.done
    g.play(moves[-1])
    assert g.winner == BLACK and g.done and g.moves == 9


def test_four_is_not_a_win_and_white_can_win() -> None:
    g = _play(
        [
            _idx(0, 0),
            _idx(1, 0),
            _idx(0, 1),
            _idx(1, 1),
            _idx(0, 2),
            _idx(1, 2),
            _idx(0, 3),
            _idx(1, 3),
        ]
    )
    assert not g.done
    g.play(_idx(5, 5))  # Black wastes a move
    g.play(_idx(1, 4))
    assert g.winner == WHITE


def test_overline_of_six_wins() -> None:
    g = _play(
        [
            _idx(4, 0),
            _idx(8, 0),
            _idx(4, 1),
            _idx(8, 1),
            _idx(4, 3),
            _idx(8, 3),
            _idx(4, 4),
            _idx(8, 4),
            _idx(4, 5),
            _idx(8, 6),
        ]
    )
    assert not g.done
    g.play(_idx(4, 2))  # joins 0-1 and 3-5 into six
    assert g.winner == BLACK


def test_full_board_without_five_is_a_draw() -> None:
    colour = np.array(
        [[BLACK if ((c // 2) + r) % 2 == 0 else WHITE for c in range(SIZE)] for r in range(SIZE)]
    )
    blacks = [int(i) for i in np.flatnonzero(colour.reshape(-1) == BLACK)]
    whites = [int(i) for i in np.flatnonzero(colour.reshape(-1) == WHITE)]
    assert len(blacks) == 41 and len(whites) == 40
    g = Gomoku()
    for i in range(81):
        assert not g.done
        g.play(blacks[i // 2] if i % 2 == 0 else whites[i // 2])
    assert g.winner == 0 and g.done and not g.legal_mask().any()
    np.testing.assert_array_equal(g.board, colour)


def test_illegal_moves_are_refused_and_change_nothing() -> None:
    g = _play([40])
    before = g.board.copy()
    for bad, msg in ((40, "occupied"), (81, "off the board"), (-1, "off the board")):
        with pytest.raises(IllegalMoveError, match=msg):
            g.play(bad)
        np.testing.assert_array_equal(g.board, before)
        assert g.to_move == WHITE and g.moves == 1
    done = _play([_idx(0, c) if i % 2 == 0 else _idx(2, c) for c in range(5) for i in range(2)][:9])
    assert done.winner == BLACK
    with pytest.raises(IllegalMoveError, match="already over"):
        done.play(_idx(7, 7))


def test_encoding_is_from_the_side_to_move() -> None:
    g = _play([0, 1])
    x = g.encode()
    assert x.dtype == np.int8 and x.shape == (3, SIZE, SIZE)
    assert x[0, 0, 0] == 1 and x[1, 0, 1] == 1 and x[2].all()  # Black to move: own stone at 0
    g.play(2)
    y = g.encode()
    assert y[0, 0, 1] == 1 and y[1, 0, 0] == 1 and y[1, 0, 2] == 1 and not y[2].any()
    assert g.legal_mask().sum() == 78
