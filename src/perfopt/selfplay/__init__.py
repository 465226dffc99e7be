"""Self-play: 9x9 five-in-a-row, a policy/value CNN, batched PUCT MCTS, worker modes.

Importing this package imports no torch: `game`, `mcts`, `play` and `worker` need only
numpy (server-mode workers never import torch); `net`, `runner` and `workload.run`
import it when used.
"""

from __future__ import annotations
