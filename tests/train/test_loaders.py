"""Per-sample and chunk loaders: identical batches, drop_last, chunk boundaries, shuffling."""

from __future__ import annotations

from pathlib import Path

import pytest

torch = pytest.importorskip("torch")

from perfopt.errors import UserError  # noqa: E402
from perfopt.train.loaders import ChunkDataLoader, per_sample_loader  # noqa: E402

SAMPLE_BYTES = 4 * (12 * 4 + 2)


def _batches(loader) -> list[tuple]:
    return [(x.clone(), y.clone()) for x, y in loader]


def _assert_same(a: list[tuple], b: list[tuple]) -> None:
    assert len(a) == len(b)
    for (xa, ya), (xb, yb) in zip(a, b, strict=True):
        assert torch.equal(xa, xb) and torch.equal(ya, yb)


@pytest.mark.parametrize("drop_last", [False, True])
@pytest.mark.parametrize("chunk_samples", [40, 64, 1000])
def test_chunk_and_per_sample_yield_identical_batches(
    seq_file: Path, drop_last: bool, chunk_samples: int
) -> None:
    gb = chunk_samples * SAMPLE_BYTES / 1024**3
    chunk = ChunkDataLoader(seq_file, 32, chunk_size_gb=gb, drop_last=drop_last)
    per = per_sample_loader(seq_file, 32, drop_last=drop_last)
    a, b = _batches(chunk), _batches(per)
    _assert_same(a, b)
    assert len(a) == len(chunk) == len(per) == (6 if drop_last else 7)
    assert sum(len(x) for x, _ in a) == (192 if drop_last else 200)


def test_chunks_hold_whole_batches_and_cover_the_file(seq_file: Path) -> None:
    chunk = ChunkDataLoader(seq_file, 32, chunk_size_gb=40 * SAMPLE_BYTES / 1024**3)
    assert chunk.samples_per_chunk == 32  # 40 samples fit: rounded down to one whole batch
    assert chunk.chunk_ranges[0] == (0, 32) and chunk.chunk_ranges[-1] == (192, 200)
    assert [b - a for a, b in chunk.chunk_ranges[:-1]] == [32] * 6
    big = ChunkDataLoader(seq_file, 32)  # default: 75% of free memory, one chunk
    assert big.chunk_ranges == [(0, 200)] and big.chunk_size_gb > 0


def test_shuffle_within_chunk_keeps_samples_inside_their_chunk(seq_file: Path) -> None:
    gb = 64 * SAMPLE_BYTES / 1024**3
    plain = torch.cat([x for x, _ in ChunkDataLoader(seq_file, 16, chunk_size_gb=gb)])
    shuffled = torch.cat(
        [
            x
            for x, _ in ChunkDataLoader(
                seq_file, 16, chunk_size_gb=gb, shuffle_within_chunk=True, seed=1
            )
        ]
    )
    assert not torch.equal(plain, shuffled)
    for start in range(0, 200, 64):
        stop = min(start + 64, 200)
        assert sorted(plain[start:stop, 0, 0].tolist()) == sorted(
            shuffled[start:stop, 0, 0].tolist()
        )


def test_per_sample_loader_with_a_forked_worker_opens_its_own_file(seq_file: Path) -> None:
    _assert_same(
        _batches(per_sample_loader(seq_file, 50, num_workers=1, start_method="fork")),
        _batches(per_sample_loader(seq_file, 50)),
    )


def test_bad_loader_input_is_refused(seq_file: Path) -> None:
    with pytest.raises(UserError, match="larger than"):
        ChunkDataLoader(seq_file, 32, chunk_size_gb=1e6)
    with pytest.raises(UserError, match="--batch-size"):
        ChunkDataLoader(seq_file, 0)
    with pytest.raises(UserError, match="--batch-size"):
        per_sample_loader(seq_file, 0)
