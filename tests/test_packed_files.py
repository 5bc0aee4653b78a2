"""Unit tests of PackedFiles: files read back from a packed file on disk, small to pickle."""

from __future__ import annotations

import pickle
from pathlib import Path

from segmesh.packed_files import PackedFiles


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
