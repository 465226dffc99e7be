"""9x9 five-in-a-row (freestyle Gomoku), the self-play game. numpy only, no torch.

Rules, complete:

1. The board has 9x9 points, all empty at the start; a move is an index 0..80
   (row * 9 + column).
2. Black (+1) moves first; the players then alternate. A move places one stone of
   the mover's colour on an empty point. There are no passes and no captures.
3. A move that completes an unbroken line of five or more of the mover's stones,
   horizontally, vertically or along either diagonal, wins at once ("freestyle":
   overlines count, no renju restrictions).
4. If all 81 points are filled and nobody has won, the game is a draw.
5. Any other move (off the board, onto a stone, after the game ended) is illegal and
   is refused with IllegalMoveError; the position is unchanged.
"""

from __future__ import annotations

import numpy as np

SIZE = 9
ACTIONS = SIZE * SIZE
WIN_LENGTH = 5
BLACK, WHITE = 1, -1
_DIRECTIONS = ((0, 1), (1, 0), (1, 1), (1, -1))  # row, column, diagonal, anti-diagonal


class IllegalMoveError(ValueError):
    """A move the rules do not allow."""


class Gomoku:
    """One game position: board, side to move, result."""

    __slots__ = ("board", "to_move", "moves", "winner", "last_move")

    def __init__(self) -> None:
        self.board = np.zeros((SIZE, SIZE), dtype=np.int8)
        self.to_move = BLACK
        self.moves = 0
        self.winner: int | None = None  # BLACK, WHITE, 0 for a draw, None while playing
        self.last_move: int | None = None

    @property
    def done(self) -> bool:
        """Whether the game is over."""
        return self.winner is not None

    def copy(self) -> Gomoku:
        """An independent copy of this position."""
        g = Gomoku.__new__(Gomoku)
        g.board = self.board.copy()
        g.to_move = self.to_move
        g.moves = self.moves
        g.winner = self.winner
        g.last_move = self.last_move
        return g

    def legal_mask(self) -> np.ndarray:
        """Boolean [81]: which moves are legal now (none once the game is over)."""
        if self.done:
            return np.zeros(ACTIONS, dtype=bool)
        return self.board.reshape(-1) == 0

    def play(self, action: int) -> None:
        """Play one move for the side to move, or raise IllegalMoveError."""
        if self.done:
            raise IllegalMoveError(f"move {action}: the game is already over")
        if not 0 <= int(action) < ACTIONS:
            raise IllegalMoveError(f"move {action}: off the board (moves are 0..{ACTIONS - 1})")
        r, c = divmod(int(action), SIZE)
        if self.board[r, c] != 0:
            raise IllegalMoveError(f"move {action} (row {r}, column {c}): point already occupied")
        player = self.to_move
        self.board[r, c] = player
        self.moves += 1
        self.last_move = int(action)
        if self._line_through(r, c, player) >= WIN_LENGTH:
            self.winner = player
        elif self.moves == ACTIONS:
            self.winner = 0
        self.to_move = -player

    def _line_through(self, r: int, c: int, player: int) -> int:
        """Longest run of player's stones through (r, c) over the four directions."""
        b = self.board
        best = 1
        for dr, dc in _DIRECTIONS:
            run = 1
            for sign in (1, -1):
                rr, cc = r + sign * dr, c + sign * dc
                while 0 <= rr < SIZE and 0 <= cc < SIZE and b[rr, cc] == player:
                    run += 1
                    rr += sign * dr
                    cc += sign * dc
            best = max(best, run)
        return best

    def encode(self) -> np.ndarray:
        """Network input int8 [3, 9, 9]: own stones, opponent stones, 1s when Black moves."""
        out = np.empty((3, SIZE, SIZE), dtype=np.int8)
        np.equal(self.board, self.to_move, out=out[0])
        np.equal(self.board, -self.to_move, out=out[1])
        out[2] = 1 if self.to_move == BLACK else 0
        return out
