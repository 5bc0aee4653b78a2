"""Unit tests of PackedArray: arrays written to disk and mapped back, small to pickle."""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pytest

from segmesh.worker_io.packed_files import packed_array


@pytest.mark.parametrize(
    "array",
    [
        np.arange(2 * 3 * 4 * 5, dtype=np.uint16).reshape(2, 3, 4, 5),
        np.array([[-3, 7], [32767, -32768]], dtype=np.int16).T,  # not C-contiguous
        np.zeros((0, 4), dtype=np.uint8),
    ],
)
def test_packed_arrays_come_back_equal(array: np.ndarray) -> None:
    with packed_array(array) as packed:
        # What travels is a path, a dtype and a shape: a few hundred bytes.
        assert len(pickle.dumps(packed)) < 300
        travelled = pickle.loads(pickle.dumps(packed))
        mapped, read = travelled.mapped(), travelled.read()
        for copy in (mapped, read):
            assert copy.dtype == array.dtype
            assert copy.shape == array.shape
            np.testing.assert_array_equal(copy, array)
        assert not mapped.flags.writeable
        path = Path(packed.path)
    assert not path.exists()
    np.testing.assert_array_equal(read, array)  # read into memory: kept after the file went
