"""Unit tests of PackedArray: arrays written to disk and mapped back, small to pickle."""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pytest

from segmesh.worker_io.packed_files import PackedArray, packed_array, remover, temporary_path


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


@pytest.mark.parametrize("remove_later", [False, True], ids=["removed", "removed later"])
def test_a_temporary_path_is_removed_on_leaving(remove_later: bool) -> None:
    """Removed later: by the remover's one thread, in order, so that once a call given to it
    after has run, the file is gone (no waiting on time)."""
    array = np.arange(12, dtype=np.uint8).reshape(3, 4)
    with temporary_path(".labels", remove_later) as name:
        path = Path(name)
        assert path.exists()
        assert path.stat().st_mode & 0o777 == 0o600
        np.testing.assert_array_equal(PackedArray.write(array, name).read(), array)
    if remove_later:
        remover().submit(lambda: None).result()
    assert not path.exists()
