"""`perfopt train`: train the LSTM on an HDF5 sequence file and report where the epoch went."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from perfopt.cli import checks


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the `train` subcommand (torch is imported only when it runs)."""
    p = subparsers.add_parser(
        "train",
        help="train an LSTM on an HDF5 sequence file (per-sample vs chunk loader, AMP)",
        description=(
            "Train an LSTM with a linear head on an HDF5 file with 'features' [N, L, F] and "
            "'targets' [N, H] (make one with `perfopt data sequences`), and report epoch time, "
            "samples/s, data-wait vs compute time and peak host/device memory."
        ),
    )
    p.add_argument("--data", type=Path, required=True, metavar="FILE", help="HDF5 sequence file")
    p.add_argument(
        "--loader",
        choices=["per-sample", "chunk"],
        default="chunk",
        help="per-sample: a Dataset reading one sample per index in a DataLoader; "
        "chunk: read large contiguous chunks onto the device and slice batches there (default)",
    )
    p.add_argument(
        "--device",
        choices=["auto", "cpu", "cuda"],
        default="auto",
        help="auto picks cuda when available (default auto)",
    )
    p.add_argument(
        "--amp",
        action=argparse.BooleanOptionalAction,
        default=False,
        help="mixed precision: CUDA float16 + GradScaler, CPU bfloat16 autocast (default off)",
    )
    p.add_argument("--batch-size", type=checks.positive_int, default=128, help="samples per batch (default 128)")
    p.add_argument("--epochs", type=checks.positive_int, default=1, help="epochs to train (default 1)")
    p.add_argument(
        "--num-workers",
        type=checks.non_negative_int,
        default=0,
        help="DataLoader worker processes for the per-sample loader (default 0)",
    )
    p.add_argument(
        "--worker-start-method",
        choices=["spawn", "fork", "forkserver"],
        default=None,
        help="start method of the DataLoader workers (default: the platform's)",
    )
    p.add_argument(
        "--chunk-size-gb",
        type=checks.positive_float,
        default=None,
        help="chunk size for the chunk loader (default 75%% of free device memory, capped by host memory)",
    )
    p.add_argument(
        "--shuffle-within-chunk",
        action="store_true",
        help="shuffle samples inside each chunk (default: keep file order)",
    )
    p.add_argument("--drop-last", action="store_true", help="drop the last short batch")
    p.add_argument(
        "--accumulate",
        type=checks.positive_int,
        default=1,
        metavar="N",
        help="gradient accumulation: one optimizer step every N batches (default 1)",
    )
    p.add_argument(
        "--compile",
        action=argparse.BooleanOptionalAction,
        default=False,
        help="torch.compile the model (first step pays the compile; default off)",
    )
    p.add_argument(
        "--checkpointing",
        action=argparse.BooleanOptionalAction,
        default=False,
        help="activation checkpointing of the LSTM (less memory, more compute)",
    )
    p.add_argument("--lr", type=checks.positive_float, default=1e-3, help="Adam learning rate (default 1e-3)")
    p.add_argument(
        "--clip-norm",
        type=checks.non_negative_float,
        default=1.0,
        help="gradient clipping max norm, 0 for none (default 1.0)",
    )
    p.add_argument("--hidden", type=checks.positive_int, default=64, help="LSTM hidden size (default 64)")
    p.add_argument("--layers", type=checks.positive_int, default=1, help="LSTM layers (default 1)")
    p.add_argument("--seed", type=checks.seed, default=0, help="seed for weights and shuffling (default 0)")
    p.add_argument(
        "--torch-threads", type=checks.positive_int, default=None, help="torch intra-op threads (default: torch's)"
    )
    p.add_argument(
        "--log-every",
        type=checks.positive_int,
        default=100,
        metavar="N",
        help="log host/device memory every N batches (shown with -v; default 100)",
    )
    p.add_argument(
        "--leak-threshold-mb",
        type=checks.non_negative_float,
        default=100.0,
        help="warn when memory grows more than this across epochs (default 100)",
    )
    p.add_argument(
        "--json", type=checks.output_file, default=None, metavar="OUT", help="also write the result as JSON"
    )
    p.set_defaults(handler=_run)


def _run(args: argparse.Namespace) -> int:
    from perfopt.train.loop import TrainConfig, train

    cfg = TrainConfig(
        data=args.data,
        loader=args.loader,
        device=args.device,
        amp=args.amp,
        batch_size=args.batch_size,
        epochs=args.epochs,
        num_workers=args.num_workers,
        chunk_size_gb=args.chunk_size_gb,
        accumulate=args.accumulate,
        compile=args.compile,
        lr=args.lr,
        clip_norm=args.clip_norm or None,
        checkpointing=args.checkpointing,
        hidden=args.hidden,
        layers=args.layers,
        drop_last=args.drop_last,
        shuffle_within_chunk=args.shuffle_within_chunk,
        seed=args.seed,
        log_every=args.log_every,
        leak_threshold_mb=args.leak_threshold_mb,
        torch_threads=args.torch_threads,
        worker_start_method=args.worker_start_method,
    )
    result = train(cfg)
    print(result.report())
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result.to_dict(), indent=2, default=str))
        print(
            f"trained {len(result.epochs)} epoch(s) on {args.data}; result written to {args.json}"
        )
    else:
        print(f"trained {len(result.epochs)} epoch(s) on {args.data}")
    return 0
