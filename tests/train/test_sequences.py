"""The sequence generator and the file validation (numpy + h5py only)."""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np
import pytest

from perfopt.errors import UserError
from perfopt.train.sequences import (
    FULL_SEQ_LEN,
    segment_lengths,
    validate_sequences,
    write_sequences,
)


def test_full_layout_is_the_sources_1104_bars() -> None:
    assert FULL_SEQ_LEN == 1104
    assert segment_lengths(1104) == [480, 288, 192, 96, 48]
    for n in (5, 12, 64, 100, 360):
        assert sum(segment_lengths(n)) == n


def test_write_then_validate_roundtrip_and_determinism(tmp_path: Path) -> None:
    a = write_sequences(tmp_path / "a.h5", 50, 20, 3, horizon=4, seed=7)
    b = write_sequences(tmp_path / "b.h5", 50, 20, 3, horizon=4, seed=7, chunked=True)
    info = validate_sequences(a)
    assert (info.samples, info.seq_len, info.features, info.horizon) == (50, 20, 3, 4)
    assert info.chunks is None and validate_sequences(b).chunks == (1, 20, 3)
    assert info.bytes_per_sample == 4 * (20 * 3 + 4)
    with h5py.File(a) as fa, h5py.File(b) as fb:
        np.testing.assert_array_equal(fa["features"][:], fb["features"][:])
        np.testing.assert_array_equal(fa["targets"][:], fb["targets"][:])
        assert np.isfinite(fa["features"][:]).all()
        assert fa.attrs["layout"].startswith("M1:")


def _bad(path: Path, **datasets: np.ndarray) -> Path:
    with h5py.File(path, "w") as f:
        for name, arr in datasets.items():
            f[name] = arr
    return path


@pytest.mark.parametrize(
    ("datasets", "message"),
    [
        ({"targets": np.zeros((4, 1), "f4")}, "missing dataset 'features'"),
        ({"features": np.zeros((4, 3, 2), "f4")}, "missing dataset 'targets'"),
        ({"features": np.zeros((4, 6), "f4"), "targets": np.zeros((4, 1), "f4")}, "rank 2"),
        ({"features": np.zeros((4, 3, 2), "f4"), "targets": np.zeros((4,), "f4")}, "rank 1"),
        (
            {"features": np.zeros((4, 3, 2), "f4"), "targets": np.zeros((5, 1), "f4")},
            "4 samples but 'targets' has 5",
        ),
        ({"features": np.zeros((4, 3, 2), "f8"), "targets": np.zeros((4, 1), "f4")}, "float64"),
    ],
)
def test_malformed_files_are_refused(tmp_path: Path, datasets: dict, message: str) -> None:
    path = _bad(tmp_path / "bad.h5", **datasets)
    with pytest.raises(UserError, match=message):
        validate_sequences(path)


def test_missing_and_non_hdf5_files_are_refused(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="no such HDF5 file"):
        validate_sequences(tmp_path / "nope.h5")
    junk = tmp_path / "junk.h5"
    junk.write_text("not hdf5")
    with pytest.raises(UserError, match="not a readable HDF5 file"):
        validate_sequences(junk)


def test_bad_sizes_are_refused(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="--samples"):
        write_sequences(tmp_path / "x.h5", 0, 4, 2)
