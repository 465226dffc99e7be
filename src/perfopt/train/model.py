"""The sequence model: an LSTM over the window with a linear head on the last step."""

from __future__ import annotations

import functools

import torch
from torch import nn
from torch.utils.checkpoint import checkpoint


class SequenceRegressor(nn.Module):
    """LSTM [B, L, F] -> last hidden state -> Linear -> [B, horizon].

    `checkpointing` recomputes the LSTM in backward instead of keeping its activations
    (less memory, more compute). `lstm_float32` keeps the LSTM out of an enclosing
    autocast region, for CPUs whose oneDNN has no reduced-precision LSTM.
    """

    def __init__(
        self,
        features: int,
        horizon: int,
        hidden: int = 64,
        layers: int = 1,
        checkpointing: bool = False,
        lstm_float32: bool = False,
    ) -> None:
        super().__init__()
        self.lstm = nn.LSTM(features, hidden, num_layers=layers, batch_first=True)
        self.head = nn.Linear(hidden, horizon)
        self.checkpointing = checkpointing
        self.lstm_float32 = lstm_float32

    def _sequence(
        self, x: torch.Tensor, h: torch.Tensor | None = None, c: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        out, (h_n, c_n) = self.lstm(x, None if h is None else (h, c))
        return out, h_n, c_n

    def _run_lstm(
        self, x: torch.Tensor, state: tuple[torch.Tensor, torch.Tensor] | None
    ) -> tuple[torch.Tensor, tuple[torch.Tensor, torch.Tensor]]:
        h, c = state if state is not None else (None, None)
        if self.checkpointing and self.training and torch.is_grad_enabled():
            out, h_n, c_n = checkpoint(self._sequence, x, h, c, use_reentrant=False)
        else:
            out, h_n, c_n = self._sequence(x, h, c)
        return out, (h_n, c_n)

    def forward_with_state(
        self, x: torch.Tensor, state: tuple[torch.Tensor, torch.Tensor] | None = None
    ) -> tuple[torch.Tensor, tuple[torch.Tensor, torch.Tensor]]:
        """Like forward, starting the LSTM from `state` (h, c) and returning its final state.

        Used to carry the hidden state from one batch to the next (stateful training):
        sample i of a batch continues sample i of the previous batch.
        """
        if self.lstm_float32:
            with torch.autocast(x.device.type, enabled=False):
                if state is not None:
                    state = (state[0].float(), state[1].float())
                out, new_state = self._run_lstm(x.float(), state)
        else:
            out, new_state = self._run_lstm(x, state)
        return self.head(out[:, -1]), new_state

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward_with_state(x)[0]


@functools.cache
def cpu_bf16_lstm_error() -> str | None:
    """Return why nn.LSTM fails under CPU bfloat16 autocast here, or None when it works."""
    lstm = nn.LSTM(4, 4, batch_first=True)
    x = torch.zeros(2, 3, 4)
    try:
        with torch.autocast("cpu", dtype=torch.bfloat16):
            lstm(x)[0].float().sum().backward()
    except RuntimeError as exc:
        return str(exc).splitlines()[0].split(". ")[0][:200]
    return None
