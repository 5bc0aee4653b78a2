"""Unit tests of PackedFiles: files read back from a packed file on disk, small to pickle."""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pytest

from segmesh.packed_files import PackedFiles, packed_array, packed_files


def test_packed_files_read_back_each_file(tmp_path: Path) -> None:
    files = [b"first file", b"", b"third" * 1000]
    path = tmp_path / "pack"
    spans, offset = [], 0
    for data in files:
        spans.append((offset, len(data)))
        offset += len(data)
    path.write_bytes(b"".join(files))
    packed = PackedFiles(str(path), tuple(spans))
    assert len(packed) == 3
    assert packed[0] == b"first file"
    assert packed[-1] == files[2]
    assert list(packed) == files
    assert packed[1:] == files[1:]
    # What travels to a worker is the path and the spans, not the files.
    assert len(pickle.dumps(packed)) < 300
    assert pickle.loads(pickle.dumps(packed))[2] == files[2]


def test_packed_files_are_written_and_removed_on_leaving() -> None:
    files = [b"a" * 10, b"", b"bc" * 7]
    with packed_files(iter(files)) as packed:
        assert list(packed) == files
        path = Path(packed.path)
        assert path.stat().st_size == 24
    assert not path.exists()


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
