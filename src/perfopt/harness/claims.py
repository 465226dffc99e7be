"""The source teams' claims as data: what each team claimed, and which pair decides it.

A `Target` is one claim; its parts are `Threshold`s (a metric under a limit) and
`Comparison`s (a ratio of two cells' metric against the claimed range). Who claimed what,
on what, is described in docs/claims.md; `perfopt.harness.targets` judges them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

AMP_CPU_NOTE = (
    "needs a GPU: the claim is CUDA float16 autocast with GradScaler; on a CPU, AMP is "
    "bfloat16 autocast, whose speed depends on the CPU's bf16 units (much slower than "
    "float32 on CPUs without them, faster on CPUs with AMX; see docs/platform-notes.md), "
    "so a CPU ratio says nothing about the claim"
)


@dataclass(frozen=True)
class Threshold:
    """A metric of the best matching cell must stay below `limit`."""

    workload: str
    metric: str
    limit: float
    select: Mapping[str, Any] = field(default_factory=dict)
    name_also: Mapping[str, Any] | None = None  # a cell worth naming beside the best


@dataclass(frozen=True)
class Comparison:
    """metric(axis in variants) against metric(axis in base), the other params equal.

    `own` names the claim's own configuration (params its pair must have); `prefer`
    narrows it further when such pairs exist (CUDA cells for a GPU-made claim).
    `variants` empty means every other value of the axis. For parallel claims,
    `workers_param` names the variant's worker count and `claim_workers` the count the
    claim is about; a claim at more workers than cores is projected.
    """

    label: str
    workload: str
    axis: str
    base: tuple[Any, ...]
    variants: tuple[Any, ...]
    metric: str
    higher_is_better: bool
    claim_low: float  # a speedup ratio, or a fraction when `reduction`
    claim_high: float | None = None
    select: Mapping[str, Any] = field(default_factory=dict)
    free: tuple[str, ...] = ()  # params allowed to differ between the two cells
    own: Mapping[str, Any] = field(default_factory=dict)
    prefer: Mapping[str, Any] = field(default_factory=dict)
    workers_param: str | None = None
    claim_workers: int | None = None
    gpu_only: bool = False
    reduction: bool = False

    @property
    def speedup_low(self) -> float:
        """The claim's lower end as a speedup (a reduction r is a speedup 1/(1-r))."""
        return 1.0 / (1.0 - self.claim_low) if self.reduction else self.claim_low

    @property
    def speedup_high(self) -> float | None:
        """The claim's upper end as a speedup, if it has one."""
        if self.claim_high is None:
            return None
        return 1.0 / (1.0 - self.claim_high) if self.reduction else self.claim_high

    def claim_text(self) -> str:
        """'2-3x', '>= 1.5x' or '>= 59.9% less epoch_s'."""
        if self.reduction:
            return f">= {100 * self.claim_low:.1f}% less {self.metric}"
        if self.claim_high:
            return f"{self.claim_low:g}-{self.claim_high:g}x"
        return f">= {self.claim_low:g}x"


@dataclass(frozen=True)
class Target:
    """One claim from a source team: an id, who claimed it, the claim, its parts."""

    id: str
    source: str
    claim: str
    parts: tuple[Threshold | Comparison, ...]


TARGETS: tuple[Target, ...] = (
    Target(
        "backtest-180s",
        "the RSI backtest team's phase-4 report",
        "500 stocks x 3 years RSI backtest finishes in < 180 s (their baseline 345.76 s)",
        (
            Threshold(
                "backtest",
                "seconds",
                180.0,
                select={"tickers": 500, "days": 756},
                name_also={"engine": "reference", "access": "naive", "source": "sqlite"},
            ),
        ),
    ),
    Target(
        "trial-parallel-2-3x",
        "the stock-selection optimizer team's parallelization plan",
        "trial-parallel with 2-4 workers on SQLite storage: 2-3x trials/s over 1 worker",
        (
            Comparison(
                "n_jobs 4 vs 1",
                "optimize",
                "n_jobs",
                (1,),
                (),
                "trials_per_s",
                True,
                2.0,
                3.0,
                select={"storage": "sqlite", "mode": "trial"},
                # their trials ran per-ticker-per-date SQLite queries
                own={"access": "naive", "executor": "local"},
                workers_param="n_jobs",
                claim_workers=4,
            ),
        ),
    ),
    Target(
        "selfplay-parallel-2-3x",
        "the self-play team's benchmark notes",
        "parallel self-play (6 workers) 2-3x games/s over serial; batch 32 vs 8: 1.5-2x",
        (
            Comparison(
                "6 worker processes vs serial",
                "selfplay",
                "parallel",
                ("serial",),
                ("process", "server"),
                "games_per_s",
                True,
                2.0,
                3.0,
                free=("workers",),
                # their workers each ran the network on the CPU
                own={"parallel": "process", "device": "cpu"},
                workers_param="workers",
                claim_workers=6,
            ),
            Comparison(
                "batch 32 vs 8",
                "selfplay",
                "mcts_batch_size",
                (8,),
                (32,),
                "games_per_s",
                True,
                1.5,
                2.0,
                own={"parallel": "serial", "device": "cpu"},
            ),
        ),
    ),
    Target(
        "chunk-loader-59.9",
        "the GPU training team's ChunkDataLoader spec",
        "chunk loading cuts epoch time by >= 59.9% vs per-sample loading (float32, GPU)",
        (
            Comparison(
                "chunk vs per-sample",
                "train",
                "loader",
                ("per-sample",),
                ("chunk",),
                "epoch_s",
                False,
                0.599,
                # measured before AMP was added: float32 is the claim's pair
                own={"amp": False},
                prefer={"device": "cuda"},
                reduction=True,
            ),
        ),
    ),
    Target(
        "amp-2-3x",
        "the GPU training team's ChunkDataLoader spec",
        "AMP (float16 autocast + GradScaler) gives 2-3x on a GPU",
        (
            Comparison(
                "amp on vs off (CUDA)",
                "train",
                "amp",
                (False,),
                (True,),
                "epoch_s",
                False,
                2.0,
                3.0,
                own={"loader": "chunk"},
                gpu_only=True,
            ),
        ),
    ),
)
