"""Files of one timeframe-grid pair, and reading them back for --resume-from.

A pair's folder `reports/<timestamp>_<run tag>/` holds:
- summary.json: the run summary (URLs masked).
- best_params.json: the best trial (single objective) or the Pareto front
  (multi-objective), plus `params`, the list `--resume-from` enqueues.
- top_trials.csv: the top-k COMPLETE trials (by value; multi-objective: the Pareto
  front first, then by total return), with their metrics, parameters and trial time.
- stages.json: per-stage seconds over the run's trials (sum, mean, p50, p90) and the
  IO ratio.
"""

from __future__ import annotations

import csv
import json
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from perfopt.errors import UserError

BEST_PARAMS_FORMAT = "perfopt-best-params"
BEST_PARAMS_VERSION = 1
STAGE_NAMES = ("data", "signals", "returns", "metrics", "total", "optuna")


def _percentile(values: list[float], q: float) -> float:
    from perfopt.optimize.summary import _percentile as pct

    return pct(values, q)


def best_params_document(summary: Mapping[str, Any], task: Any) -> dict[str, Any]:
    """The best_params.json content of a pair."""
    front = summary.get("pareto_front")
    best = summary.get("best")
    params = [t["params"] for t in front] if front else ([best["params"]] if best else [])
    return {
        "format": BEST_PARAMS_FORMAT,
        "version": BEST_PARAMS_VERSION,
        "study": summary["study"],
        "symbol": task.symbol,
        "ltf": task.ltf,
        "htf": task.htf,
        "signal": task.signal,
        "features": dict(task.features),
        "directions": summary["directions"],
        "objectives": ["total_return", "abs_max_drawdown"]
        if task.multi_objective
        else [task.objective],
        "best": best,
        "pareto_front": front,
        "params": params,
    }


def top_trials(study: Any, k: int) -> list[Any]:
    """The best k COMPLETE trials (multi-objective: Pareto front first, then by return)."""
    from optuna.trial import TrialState

    done = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
    if len(study.directions) == 1:
        sign = -1.0 if study.direction.name == "MAXIMIZE" else 1.0
        return sorted(done, key=lambda t: (sign * t.value, t.number))[:k]
    front = {t.number for t in study.best_trials}
    return sorted(done, key=lambda t: (t.number not in front, -t.values[0], t.number))[:k]


def write_top_trials_csv(path: Path, trials: list[Any], multi: bool) -> None:
    """One row per trial: rank, number, value(s), metrics, parameters, trial seconds."""
    param_names = sorted({name for t in trials for name in t.params})
    metric_names = ["sharpe", "total_return", "max_drawdown", "n_trades", "win_rate", "exposure"]
    value_cols = ["total_return_objective", "abs_max_drawdown"] if multi else ["value"]
    with path.open("w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["rank", "number", *value_cols, *metric_names, *param_names, "trial_s"])
        for rank, t in enumerate(trials, 1):
            metrics = t.user_attrs.get("metrics", {})
            values = list(t.values) if multi else [t.value]
            writer.writerow(
                [rank, t.number, *values]
                + [metrics.get(m, "") for m in metric_names]
                + [t.params.get(p, "") for p in param_names]
                + [t.user_attrs.get("timers", {}).get("total", "")]
            )


def stage_summary(study: Any, first_number: int) -> dict[str, Any]:
    """Per-stage seconds over this run's finished trials: sum, mean, p50, p90; IO ratio."""
    timed = [
        t.user_attrs["timers"]
        for t in study.get_trials(deepcopy=False)
        if t.number >= first_number and t.state.is_finished() and "timers" in t.user_attrs
    ]
    stages: dict[str, Any] = {}
    for name in STAGE_NAMES:
        values = [tm.get(name, 0.0) for tm in timed]
        stages[name] = {
            "sum": sum(values),
            "mean": sum(values) / len(values) if values else math.nan,
            "p50": _percentile(values, 0.5),
            "p90": _percentile(values, 0.9),
        }
    total = stages["total"]["sum"]
    return {
        "trials": len(timed),
        "stages": stages,
        "io_ratio": stages["data"]["sum"] / total if total else math.nan,
        "note": "returns = the fill/equity simulation; data = reaching the prepared arrays "
        "(bars are loaded once per worker: see workers[].load_s in summary.json)",
    }


def write_pair_outputs(
    folder: Path, summary: dict[str, Any], study: Any, task: Any, top_k: int, first_number: int
) -> dict[str, str]:
    """Write the four files of a pair; return {kind: path}."""
    from perfopt.optimize.api import write_json

    folder.mkdir(parents=True, exist_ok=True)
    paths = {
        "summary": folder / "summary.json",
        "best_params": folder / "best_params.json",
        "top_trials": folder / "top_trials.csv",
        "stages": folder / "stages.json",
    }
    write_json(paths["summary"], summary)
    write_json(paths["best_params"], best_params_document(summary, task))
    write_top_trials_csv(paths["top_trials"], top_trials(study, top_k), task.multi_objective)
    write_json(paths["stages"], stage_summary(study, first_number))
    return {k: str(v) for k, v in paths.items()}


def load_resume_params(path: Path, space: Mapping[str, tuple]) -> list[dict[str, Any]]:
    """Parameter sets from a best_params.json (or {"params": {...}} / a bare mapping).

    Each set is checked against the search space; a mismatch is a UserError naming the
    file and the parameter.
    """
    from perfopt.intraday import check_params

    path = Path(path)
    try:
        doc = json.loads(path.read_text())
    except OSError as exc:
        raise UserError(f"--resume-from {path}: cannot read it ({exc.strerror})") from None
    except ValueError as exc:
        raise UserError(f"--resume-from {path}: not JSON ({exc})") from None
    if isinstance(doc, dict) and isinstance(doc.get("params"), list):
        sets = doc["params"]
    elif isinstance(doc, dict) and isinstance(doc.get("params"), dict):
        sets = [doc["params"]]
    elif isinstance(doc, dict) and isinstance(doc.get("best"), dict):
        sets = [doc["best"].get("params", {})]
    elif isinstance(doc, dict) and all(not isinstance(v, dict | list) for v in doc.values()):
        sets = [doc]
    else:
        raise UserError(
            f"--resume-from {path}: expected a best_params.json from an earlier run "
            "(or a JSON object of parameter values)"
        )
    if not sets:
        raise UserError(f"--resume-from {path}: holds no parameters (the earlier run had none)")
    result = []
    for params in sets:
        if not isinstance(params, dict):
            raise UserError(f"--resume-from {path}: a parameter set is not a JSON object")
        params = {k: v for k, v in params.items() if k != "signal"}
        try:
            check_params(params, space)
        except UserError as exc:
            raise UserError(f"--resume-from {path}: {exc}") from None
        result.append({k: int(v) if space[k][0] == "int" else float(v) for k, v in params.items()})
    return result
