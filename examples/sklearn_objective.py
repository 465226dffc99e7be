"""A CPU-bound objective over a scikit-learn model: an SVC on the digits data sklearn ships.

    perfopt optimize --objective examples/sklearn_objective.py:objective \
        --direction maximize --n-trials 120 --n-jobs 2 --storage journal:///tmp/svc.log

The same function runs under plain Optuna (`study.optimize(objective, ...)`): outside
perfopt, `stage` does nothing. `objective_with_data` takes the data `load_data`
returns, loaded once per worker process with `--objective-setup
examples/sklearn_objective.py:load_data`.
"""

from __future__ import annotations

from typing import Any

from perfopt import stage


def load_data() -> tuple[Any, Any]:
    """The first 900 of the 8x8 digit images shipped with scikit-learn, with labels."""
    from sklearn.datasets import load_digits

    digits = load_digits()
    return digits.data[:900], digits.target[:900]


def _score(trial: Any, x: Any, y: Any) -> float:
    from sklearn.model_selection import cross_val_score
    from sklearn.svm import SVC

    c = trial.suggest_float("C", 1e-2, 1e2, log=True)
    gamma = trial.suggest_float("gamma", 1e-4, 1e-1, log=True)
    with stage("fit"):
        scores = cross_val_score(SVC(C=c, gamma=gamma), x, y, cv=3, n_jobs=1)
    return float(scores.mean())


def objective(trial: Any) -> float:
    """Mean 3-fold accuracy of an SVC(C, gamma); the data is read in every trial."""
    with stage("data"):
        x, y = load_data()
    return _score(trial, x, y)


def objective_with_data(trial: Any, data: tuple[Any, Any]) -> float:
    """The same, on data loaded once per worker by `load_data` (--objective-setup)."""
    x, y = data
    return _score(trial, x, y)


if __name__ == "__main__":
    import optuna

    study = optuna.create_study(direction="maximize")
    study.optimize(objective, n_trials=20)
    print(study.best_params, study.best_value)
