"""The backtest as a harness workload (see perfopt.workload for the contract)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar

from perfopt.defaults import DATA_SOURCES
from perfopt.machine import START_METHODS
from perfopt.workload import Measurement, Workload


def data_folder(cache_dir: Path, params: Mapping[str, Any]) -> Path:
    """Return the cached data folder for a cell's universe size."""
    return cache_dir / f"backtest-{params['tickers']}x{params['days']}-seed{params['seed']}"


class BacktestWorkload(Workload):
    """500 stocks x 756 days of the RSI sleeve strategy, any engine, source and sharding."""

    name: ClassVar[str] = "backtest"
    preload: ClassVar[tuple[str, ...]] = (
        "numba",
        "pyarrow.parquet",
        "h5py",
        "threadpoolctl",
        "perfopt.backtest",
        "perfopt.backtest.fused",
        "perfopt.data",
    )
    axes: ClassVar[Mapping[str, tuple]] = {
        "engine": ("reference", "numba"),
        "source": DATA_SOURCES,
        "access": ("bulk", "naive"),
        "workers": (1, 2, 3, 4, 8),
        "start_method": START_METHODS,
        "tickers": (50, 100, 500, 1000),
        "days": (252, 756, 1512),
        "seed": (7,),
    }
    problem_axes: ClassVar[Mapping[str, str]] = {
        "tickers": "a different universe",
        "days": "a different period",
        "seed": "different data",
    }
    defaults: ClassVar[Mapping[str, Any]] = {
        "engine": "numba",
        "source": "hdf5",
        "access": "bulk",
        "workers": 1,
        "start_method": "spawn",
        "tickers": 500,
        "days": 756,
        "seed": 7,
    }

    def skip_reason(self, params: Mapping[str, Any]) -> str | None:
        """Parquet has no point queries, so naive access needs sqlite or hdf5."""
        if params["access"] == "naive" and params["source"] == "parquet":
            return "naive access needs point queries; Parquet has none (use sqlite or hdf5)"
        return None

    def prepare(self, params: Mapping[str, Any], cache_dir: Path) -> None:
        """Generate the cell's data folder once."""
        from perfopt.data import generate_panel, write_panel

        folder = data_folder(cache_dir, params)
        if (folder / "prices.h5").is_file():
            return
        panel = generate_panel(
            int(params["tickers"]), n_days=int(params["days"]), seed=int(params["seed"])
        )
        write_panel(panel, folder)

    def run(self, params: Mapping[str, Any], cache_dir: Path, workdir: Path) -> Measurement:
        """Run one backtest; seconds is the end-to-end total (compile reported apart)."""
        from perfopt.backtest import BacktestConfig, run_backtest

        result = run_backtest(
            BacktestConfig(
                data_dir=data_folder(cache_dir, params),
                source=params["source"],
                access=params["access"],
                engine=params["engine"],
                workers=int(params["workers"]),
                start_method=params["start_method"],
            )
        )
        total = result.stages["total"]
        return Measurement(
            seconds=total,
            stages=_top_level(result.stages),
            metrics={
                "total_s": total,
                "compile_s": result.info["compile_s"],
                "bars_per_s": len(result.dates) * len(result.tickers) / total,
                "total_return": result.metrics["total_return"],
                "n_trades": result.metrics["n_trades"],
            },
            info=result.info,
        )


# Stages a sharded run times inside each worker, while the parent times "shards" around
# all of them: nested under it, so that the top-level stages add up to the run.
_WORKER_STAGES = ("worker_start", "worker_compile", "load", "signals", "simulate")


def _top_level(stages: Mapping[str, float]) -> dict[str, float]:
    """The run's stages without "total", worker stages nested as "shards/<name>"."""
    sharded = "shards" in stages
    return {
        (f"shards/{k}" if sharded and k in _WORKER_STAGES else k): v
        for k, v in stages.items()
        if k != "total"
    }
