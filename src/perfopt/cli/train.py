"""`perfopt train`: train the LSTM on an HDF5 sequence file and report where the epoch went."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from perfopt.cli import checks, config_file
from perfopt.machine import START_METHODS, available_cores


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
    p.add_argument(
        "--data", type=Path, default=None, metavar="FILE", help="HDF5 sequence file (required here or in --config)"
    )
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
        choices=list(START_METHODS),
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
        "--torch-threads",
        type=checks.positive_int,
        default=None,
        help="torch intra-op threads (default: half the available cores, at most 4, so a busy "
        "machine is not oversubscribed; the run says what it used)",
    )
    p.add_argument(
        "--prefetch-factor",
        type=checks.positive_int,
        default=None,
        help="batches each DataLoader worker reads ahead (per-sample loader with --num-workers; "
        "default: torch's, 2)",
    )
    p.add_argument(
        "--persistent-workers",
        action=argparse.BooleanOptionalAction,
        default=False,
        help="keep DataLoader workers alive between epochs instead of starting them again "
        "(per-sample loader with --num-workers; default off)",
    )
    p.add_argument(
        "--carry-state",
        action=argparse.BooleanOptionalAction,
        default=False,
        help="start each batch's LSTM from the previous batch's final hidden state (detached: "
        "truncated backpropagation); sample i of a batch must continue sample i of the previous "
        "one (default off: every batch starts from zeros)",
    )
    p.add_argument(
        "--progress",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="a bar over each epoch's batches on stderr (a line every 10 s when stderr is not a "
        "terminal; default on)",
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
    config_file.add_config_flag(p, "train")
    p.set_defaults(handler=_run)


def default_torch_threads() -> tuple[int, int]:
    """(threads, available cores): half the cores this process may use, 1 to 4."""
    cores = available_cores()
    return max(1, min(4, cores // 2)), cores


def _run(args: argparse.Namespace) -> int:
    from perfopt.errors import UserError

    config_file.apply_config_file(args)
    if args.data is None:
        raise UserError("--data FILE is required (on the command line or as data = ... in --config)")
    from perfopt.cli.progress import BatchBar, Steps
    from perfopt.train.loop import TrainConfig, check_config, resolve_device, train
    from perfopt.train.sequences import validate_sequences

    threads = args.torch_threads
    default_threads = threads is None
    if default_threads:
        threads, cores = default_torch_threads()
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
        torch_threads=threads,
        worker_start_method=args.worker_start_method,
        prefetch_factor=args.prefetch_factor,
        persistent_workers=args.persistent_workers,
        carry_state=args.carry_state,
    )
    # refuse bad input before any line is printed: an error stays one line
    check_config(cfg)
    resolve_device(cfg.device)
    validate_sequences(cfg.data)
    steps = Steps(enabled=args.progress)
    if default_threads:
        steps(
            f"torch threads: {threads} of {cores} available cores (the default caps them so "
            "a busy machine is not oversubscribed; --torch-threads N to change)"
        )
    steps(
        f"training on {args.data}: {args.epochs} epoch(s), {args.loader} loader, batch "
        f"{args.batch_size} (the first batch pays model set-up{' and compile' if args.compile else ''})"
    )
    bar = BatchBar(total=0, rounds=args.epochs, enabled=args.progress)
    try:
        result = train(cfg, progress=bar.update)
    finally:
        bar.close()
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
