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

    def _sequence(self, x: torch.Tensor) -> torch.Tensor:
        return self.lstm(x)[0]

    def _run_lstm(self, x: torch.Tensor) -> torch.Tensor:
        if self.checkpointing and self.training and torch.is_grad_enabled():
            return checkpoint(self._sequence, x, use_reentrant=False)
        return self._sequence(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.lstm_float32:
            with torch.autocast(x.device.type, enabled=False):
                out = self._run_lstm(x.float())
        else:
            out = self._run_lstm(x)
        return self.head(out[:, -1])


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
