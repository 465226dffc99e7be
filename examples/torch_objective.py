"""A torch training objective with pruning: a small MLP on a synthetic regression task.

    perfopt optimize --objective examples/torch_objective.py:objective \
        --objective-setup examples/torch_objective.py:setup \
        --pruner median --n-trials 40 --n-jobs 2 --storage journal:///tmp/mlp.log

`setup` runs once per worker process: one torch thread per process (two processes with
two threads each oversubscribe a 2-core machine) and the data made there. Each epoch
reports the validation loss; the pruner stops trials that fall behind. The objective
minimizes the final validation loss (Optuna's default direction).
"""

from __future__ import annotations

from typing import Any

from perfopt import stage

EPOCHS = 6


def setup() -> dict[str, Any]:
    """One torch thread; 1,024 training and 512 validation samples of y = sin(x . w)."""
    import torch

    torch.set_num_threads(1)
    gen = torch.Generator().manual_seed(0)
    w = torch.randn(16, generator=gen)
    x = torch.randn(1536, 16, generator=gen)
    y = torch.sin(x @ w).unsqueeze(1) + 0.05 * torch.randn(1536, 1, generator=gen)
    return {"train": (x[:1024], y[:1024]), "valid": (x[1024:], y[1024:])}


def objective(trial: Any, data: dict[str, Any]) -> float:
    """Validation MSE after EPOCHS epochs of Adam; reported per epoch for pruning."""
    import optuna
    import torch
    from torch import nn

    width = trial.suggest_int("width", 8, 64, log=True)
    lr = trial.suggest_float("lr", 1e-4, 3e-2, log=True)
    batch = trial.suggest_categorical("batch", [32, 64, 128])
    torch.manual_seed(trial.number)
    model = nn.Sequential(nn.Linear(16, width), nn.Tanh(), nn.Linear(width, 1))
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    x, y = data["train"]
    xv, yv = data["valid"]
    loss = float("nan")
    for epoch in range(EPOCHS):
        with stage("data"):
            order = torch.randperm(len(x))
            batches = [(x[i], y[i]) for i in order.split(batch)]
        with stage("train"):
            model.train()
            for xb, yb in batches:
                opt.zero_grad()
                nn.functional.mse_loss(model(xb), yb).backward()
                opt.step()
        with stage("eval"), torch.no_grad():
            model.eval()
            loss = float(nn.functional.mse_loss(model(xv), yv))
        trial.report(loss, epoch)
        if trial.should_prune():
            raise optuna.TrialPruned(f"pruned after epoch {epoch}")
    return loss
