"""The policy/value CNN and a numpy-facing evaluator around it (torch)."""

from __future__ import annotations

import contextlib
import io
import time

import numpy as np
import torch
from torch import nn

from perfopt.selfplay.game import ACTIONS, SIZE
from perfopt.selfplay.modes import COMPILE_MODES


class PolicyValueNet(nn.Module):
    """3x9x9 planes -> conv trunk -> policy logits [81] and value in [-1, 1]."""

    def __init__(self, channels: int = 32, blocks: int = 2) -> None:
        super().__init__()
        layers: list[nn.Module] = [nn.Conv2d(3, channels, 3, padding=1), nn.ReLU()]
        for _ in range(blocks):
            layers += [nn.Conv2d(channels, channels, 3, padding=1), nn.ReLU()]
        self.trunk = nn.Sequential(*layers)
        self.policy = nn.Sequential(
            nn.Conv2d(channels, 2, 1), nn.ReLU(), nn.Flatten(), nn.Linear(2 * SIZE * SIZE, ACTIONS)
        )
        self.value = nn.Sequential(
            nn.Conv2d(channels, 1, 1),
            nn.ReLU(),
            nn.Flatten(),
            nn.Linear(SIZE * SIZE, 64),
            nn.ReLU(),
            nn.Linear(64, 1),
            nn.Tanh(),
        )

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h = self.trunk(x)
        return self.policy(h), self.value(h).squeeze(-1)


def build_net(seed: int, channels: int = 32, blocks: int = 2) -> PolicyValueNet:
    """A freshly initialised network; equal seeds give equal weights."""
    gen_state = torch.random.get_rng_state()
    torch.manual_seed(seed)
    try:
        return PolicyValueNet(channels, blocks).eval()
    finally:
        torch.random.set_rng_state(gen_state)


def net_to_bytes(net: nn.Module) -> bytes:
    """Serialize weights (what a process worker receives)."""
    buf = io.BytesIO()
    torch.save(net.state_dict(), buf)
    return buf.getvalue()


def net_from_bytes(data: bytes, channels: int, blocks: int) -> PolicyValueNet:
    """Rebuild a network from net_to_bytes output."""
    net = PolicyValueNet(channels, blocks)
    net.load_state_dict(torch.load(io.BytesIO(data), weights_only=True))
    return net.eval()


class NetEvaluator:
    """Callable evaluator for MCTS: numpy int8 states -> (logits, values) numpy float32."""

    def __init__(
        self,
        net: nn.Module,
        device: str = "cpu",
        amp: bool = False,
        compile: bool = False,
        compile_mode: str = "default",
        warm_batches: tuple[int, ...] = (1, 2),
    ) -> None:
        if compile_mode not in COMPILE_MODES:
            raise ValueError(f"compile mode must be one of {', '.join(COMPILE_MODES)}")
        self.device = torch.device(device)
        self.net = net.to(self.device).eval()
        self.amp = amp
        self.amp_dtype = torch.float16 if self.device.type == "cuda" else torch.bfloat16
        self.compile_s = 0.0
        self.compile_mode = compile_mode if compile else None
        self.model = self.net
        if compile:
            t0 = time.perf_counter()
            # dynamic=True: batch sizes vary (collisions, merged server batches).
            # "reduce-overhead" adds CUDA graphs on a GPU: one recording per batch size.
            self.model = torch.compile(self.net, dynamic=True, mode=compile_mode)
            # Compile now, not inside a game: batch 1 (every root) gets its own graph
            # (torch specializes sizes 0/1), 2 compiles the dynamic-batch graph, and the
            # MCTS batch size is recorded before the clock of the games starts.
            for batch in sorted(set(warm_batches) | {1, 2}):
                self(np.zeros((batch, 3, SIZE, SIZE), dtype=np.int8))
            if self.device.type == "cuda":
                torch.cuda.synchronize(self.device)
            self.compile_s = time.perf_counter() - t0

    def __call__(self, states: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        x = torch.from_numpy(np.ascontiguousarray(states)).to(
            self.device, torch.float32, non_blocking=True
        )
        amp = (
            torch.autocast(self.device.type, dtype=self.amp_dtype)
            if self.amp
            else contextlib.nullcontext()
        )
        with torch.inference_mode(), amp:
            logits, values = self.model(x)
        return logits.float().cpu().numpy(), values.float().cpu().numpy()
