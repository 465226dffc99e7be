"""Synthetic multi-timeframe HDF5 sequence datasets, and their validation.

Layout (the contract in docs/workloads.md): a file with two float32 datasets,
`features` [N, seq_len, n_features] and `targets` [N, horizon]. Each window is the
concatenation of five timeframe segments in the source's proportions (M1 480, M5 288,
M15 192, H1 96, H4 48 bars; `seq_len=1104` reproduces the source's full size, smaller
lengths scale every segment down). Only numpy and h5py are used here, so generating
data never imports torch.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from perfopt.errors import UserError

# (name, bars in the source's layout, minutes per bar)
TIMEFRAMES: tuple[tuple[str, int, int], ...] = (
    ("M1", 480, 1),
    ("M5", 288, 5),
    ("M15", 192, 15),
    ("H1", 96, 60),
    ("H4", 48, 240),
)
FULL_SEQ_LEN = sum(bars for _, bars, _ in TIMEFRAMES)  # 1104
_BLOCK_SAMPLES = 512  # generate in blocks so a large file never sits in memory at once


@dataclass(frozen=True)
class SequenceInfo:
    """Shape facts of a validated sequence file."""

    path: Path
    samples: int
    seq_len: int
    features: int
    horizon: int
    chunks: tuple[int, ...] | None

    @property
    def bytes_per_sample(self) -> int:
        """Bytes of one sample (features plus targets, float32)."""
        return 4 * (self.seq_len * self.features + self.horizon)


def segment_lengths(seq_len: int) -> list[int]:
    """Split seq_len into the five timeframe segments in the source's proportions."""
    raw = [seq_len * bars / FULL_SEQ_LEN for _, bars, _ in TIMEFRAMES]
    lengths = [int(x) for x in raw]
    # Hand the rounding remainder to the largest fractions so the sum is exact.
    order = sorted(range(len(raw)), key=lambda i: raw[i] - lengths[i], reverse=True)
    for i in order[: seq_len - sum(lengths)]:
        lengths[i] += 1
    return lengths


def _block(
    rng: np.random.Generator,
    n: int,
    seq_len: int,
    n_features: int,
    horizon: int,
    mixing: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Generate n samples: per-timeframe random walks sharing a drift, mixed into features."""
    drift = rng.normal(0.0, 2e-4, size=(n, 1))
    vol = rng.uniform(5e-4, 2e-3, size=(n, 1))
    parts = []
    for length, (_, _, minutes) in zip(segment_lengths(seq_len), TIMEFRAMES, strict=True):
        if length == 0:
            continue
        scale = np.sqrt(minutes)
        ret = drift * minutes + vol * scale * rng.standard_normal((n, length))
        level = np.cumsum(ret, axis=1)
        base = np.stack(
            [
                ret / (vol * scale),
                level / (vol * scale * np.sqrt(length)),
                np.abs(ret) / (vol * scale),
                np.full_like(ret, np.log(minutes)),
            ],
            axis=-1,
        )
        parts.append(base)
    signals = np.concatenate(parts, axis=1)  # [n, seq_len, 4]
    feats = signals @ mixing + 0.05 * rng.standard_normal((n, seq_len, n_features))
    steps = np.arange(1, horizon + 1, dtype=np.float64)
    targets = drift * steps * 1e3 + 0.1 * rng.standard_normal((n, horizon))
    return feats.astype(np.float32), targets.astype(np.float32)


def write_sequences(
    path: Path,
    samples: int,
    seq_len: int,
    features: int,
    horizon: int = 1,
    seed: int = 0,
    chunked: bool = False,
    max_bytes: int | None = None,
) -> Path:
    """Write a synthetic multi-timeframe sequence dataset to an HDF5 file.

    Args:
        path: output file (parent folders are created).
        samples, seq_len, features, horizon: dataset shape; seq_len=1104 is the
            source's full multi-timeframe layout.
        seed: generator seed; equal arguments give byte-identical datasets.
        chunked: store `features` with one-sample HDF5 chunks instead of contiguously
            (h5py's automatic chunking was measured 115x slower for per-sample reads).
        max_bytes: refuse (UserError) a dataset larger than this; the free space of the
            target folder is checked as well, before anything is written.

    The file is written under a temporary name and renamed into place; a failure or an
    interrupt removes the temporary file.
    """
    for name, value in (
        ("samples", samples),
        ("seq-len", seq_len),
        ("features", features),
        ("horizon", horizon),
    ):
        if int(value) < 1:
            raise UserError(f"--{name} must be at least 1 (got {value})")
    path = Path(path)
    if path.is_dir():
        raise UserError(f"--out {path} is a folder; name the HDF5 file to write")
    path.parent.mkdir(parents=True, exist_ok=True)
    _check_size(path, 4 * samples * (seq_len * features + horizon), max_bytes)
    rng = np.random.default_rng(seed)
    mixing = rng.normal(0.0, 1.0, size=(4, features))
    tmp = path.with_name(path.name + ".tmp")
    try:
        _write(tmp, rng, mixing, samples, seq_len, features, horizon, seed, chunked)
        tmp.replace(path)  # never leave a half-written file under the final name
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path


def _check_size(path: Path, size: int, max_bytes: int | None) -> None:
    """Refuse a dataset above max_bytes or above the free space of its folder."""
    import shutil

    if max_bytes is not None and size > max_bytes:
        raise UserError(
            f"{path} would be {size / 1e9:.2f} GB, above the {max_bytes / 1e9:.2f} GB limit; "
            "lower --samples/--seq-len/--features or raise --max-size-gb"
        )
    free = shutil.disk_usage(path.parent).free
    if size > 0.95 * free:
        raise UserError(
            f"{path} would be {size / 1e9:.2f} GB but {path.parent} has {free / 1e9:.2f} GB "
            "free; make room or write elsewhere"
        )


def _write(
    tmp: Path,
    rng: np.random.Generator,
    mixing: np.ndarray,
    samples: int,
    seq_len: int,
    features: int,
    horizon: int,
    seed: int,
    chunked: bool,
) -> None:
    import h5py

    with h5py.File(tmp, "w") as f:
        chunks = (1, seq_len, features) if chunked else None
        dfeat = f.create_dataset(
            "features", (samples, seq_len, features), dtype="f4", chunks=chunks
        )
        dtarg = f.create_dataset("targets", (samples, horizon), dtype="f4")
        for start in range(0, samples, _BLOCK_SAMPLES):
            stop = min(start + _BLOCK_SAMPLES, samples)
            feats, targs = _block(rng, stop - start, seq_len, features, horizon, mixing)
            dfeat[start:stop] = feats
            dtarg[start:stop] = targs
        f.attrs["layout"] = ",".join(
            f"{name}:{n}"
            for (name, _, _), n in zip(TIMEFRAMES, segment_lengths(seq_len), strict=True)
        )
        f.attrs["seed"] = seed
        f.attrs["generator"] = "perfopt.train.sequences v1"


def validate_sequences(path: Path) -> SequenceInfo:
    """Check a sequence file's datasets, ranks, dtypes and lengths; return its shape."""
    import h5py

    path = Path(path)
    if not path.is_file():
        raise UserError(
            f"{path}: no such HDF5 file; create one with `perfopt data sequences --out {path}`"
        )
    try:
        f = h5py.File(path, "r")
    except OSError as exc:
        raise UserError(f"{path}: not a readable HDF5 file ({exc})") from None
    with f:
        for name in ("features", "targets"):
            if name not in f or not isinstance(f[name], h5py.Dataset):
                raise UserError(
                    f"{path}: missing dataset '{name}' (expected 'features' [N, L, F] and 'targets' [N, H])"
                )
        feats, targs = f["features"], f["targets"]
        if feats.ndim != 3:
            raise UserError(
                f"{path}: 'features' has rank {feats.ndim} {feats.shape}, expected 3 [N, seq_len, features]"
            )
        if targs.ndim != 2:
            raise UserError(
                f"{path}: 'targets' has rank {targs.ndim} {targs.shape}, expected 2 [N, horizon]"
            )
        if feats.shape[0] != targs.shape[0]:
            raise UserError(
                f"{path}: 'features' has {feats.shape[0]} samples but 'targets' has {targs.shape[0]}; they must match"
            )
        if feats.shape[0] == 0 or 0 in feats.shape or 0 in targs.shape:
            raise UserError(f"{path}: empty dataset {feats.shape} / {targs.shape}")
        for name, ds in (("features", feats), ("targets", targs)):
            if ds.dtype != np.float32:
                raise UserError(f"{path}: '{name}' is {ds.dtype}, expected float32")
        return SequenceInfo(
            path=path,
            samples=int(feats.shape[0]),
            seq_len=int(feats.shape[1]),
            features=int(feats.shape[2]),
            horizon=int(targs.shape[1]),
            chunks=tuple(feats.chunks) if feats.chunks else None,
        )
