"""The self-play option lists, importable without torch (the CLI and the harness read them)."""

from __future__ import annotations

# torch.compile modes offered; "reduce-overhead" uses CUDA graphs on a GPU (a no-op on CPU).
COMPILE_MODES = ("default", "reduce-overhead", "max-autotune-no-cudagraphs", "max-autotune")
