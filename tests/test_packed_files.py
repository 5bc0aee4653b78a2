"""Unit tests of PackedArray: arrays written to disk (or to memory, handed back by a worker) and
mapped back, small to pickle."""

from __future__ import annotations

import errno
import os
import pickle
import tempfile
from pathlib import Path

import numpy as np
import pytest

from segmesh.worker_io import packed_files
from segmesh.worker_io.packed_files import (
    PackedArray,
    packed_array,
    remover,
    temporary_path,
    write_handed_back,
)


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


@pytest.mark.parametrize("remove_later", [False, True], ids=["removed", "removed later"])
def test_a_temporary_path_in_memory_where_there_is_room(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, remove_later: bool
) -> None:
    """In memory, a temporary path is made in SHARED_MEMORY (here a folder of the test's own)
    where that has ROOM_IN_MEMORY free, else in the temporary folder on disk; either way an
    array written there is read back the same, and removed on leaving."""
    shared = tmp_path / "shm"
    shared.mkdir()
    monkeypatch.setattr(packed_files, "SHARED_MEMORY", str(shared))
    monkeypatch.setattr(packed_files, "_ram_file_systems", lambda: frozenset({str(shared)}))
    array = np.arange(4096, dtype=np.uint16).reshape(64, 64)
    # No room needed, then more than any disk has: other writes change the free space.
    for room, folder in ((0, str(shared)), (1 << 62, tempfile.gettempdir())):
        monkeypatch.setattr(packed_files, "ROOM_IN_MEMORY", room)
        with temporary_path(".labels", remove_later, in_memory=True) as name:
            assert os.path.dirname(name) == folder
            packed = PackedArray.write(array, name)
            assert packed.path == name
            np.testing.assert_array_equal(packed.read(), array)
        if remove_later:
            remover().submit(lambda: None).result()
        assert not Path(name).exists()
    assert list(shared.iterdir()) == []


def test_memory_running_out_meanwhile_hands_back_on_disk(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Room seen, then none left as the file is written (another write took it): written to
    its name on disk, nothing left in memory, and that removed with the temporary path."""
    shared = tmp_path / "shm"
    shared.mkdir()
    monkeypatch.setattr(packed_files, "SHARED_MEMORY", str(shared))
    monkeypatch.setattr(packed_files, "_ram_file_systems", lambda: frozenset({str(shared)}))
    monkeypatch.setattr(packed_files, "ROOM_IN_MEMORY", 1)
    real_write = packed_files._write

    def full(path: str, data: bytes | memoryview) -> None:
        if path.startswith(str(shared)):
            Path(path).write_bytes(b"part")
            raise OSError(errno.ENOSPC, "No space left on device", path)
        real_write(path, data)

    monkeypatch.setattr(packed_files, "_write", full)
    with temporary_path(".file", in_memory=True) as name:
        written = write_handed_back(b"abc" * 1000, name)
        assert written == os.path.join(tempfile.gettempdir(), os.path.basename(name))
        assert Path(written).read_bytes() == b"abc" * 1000
        assert list(shared.iterdir()) == []
    assert not Path(written).exists()
    # A disk full where the path is on disk already: the caller's error.
    monkeypatch.setattr(packed_files, "SHARED_MEMORY", str(tmp_path))
    with pytest.raises(OSError, match="No space"):
        write_handed_back(b"def", str(shared / "segmesh-x.file"))


def test_an_array_kept_from_memory_is_mapped_and_from_disk_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Kept from SHARED_MEMORY (here a folder of the test's own), an array is mapped, not
    copied: the same values, writable without writing to the file, and still there once the
    file is gone. From anywhere else it is read into memory."""
    shared = tmp_path / "shm"
    shared.mkdir()
    monkeypatch.setattr(packed_files, "SHARED_MEMORY", str(shared))
    array = np.arange(2 * 3 * 4, dtype=np.uint16).reshape(2, 3, 4)
    in_memory = PackedArray.write(array, str(shared / "segmesh-a.labels"))
    on_disk = PackedArray.write(array, str(tmp_path / "segmesh-b.labels"))
    mapped, read = in_memory.kept(), on_disk.kept()
    assert isinstance(mapped.base, np.memmap)
    assert not isinstance(read.base, np.memmap)
    for kept in (mapped, read):
        np.testing.assert_array_equal(kept, array)
        assert kept.flags.writeable
    mapped[0, 0, 0] = 99
    os.unlink(in_memory.path)
    assert mapped[0, 0, 0] == 99
    np.testing.assert_array_equal(mapped[1], array[1])
    empty = PackedArray.write(np.zeros((0, 4), np.uint8), str(shared / "segmesh-c.labels"))
    assert empty.kept().shape == (0, 4)


def test_only_a_ram_file_system_is_taken_for_memory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A folder on disk never passes for memory, whatever its room; a tmpfs with room does."""
    monkeypatch.setattr(packed_files, "ROOM_IN_MEMORY", 0)
    assert not packed_files._has_room(str(tmp_path))
    assert not packed_files._has_room(str(tmp_path / "absent"))
    tmpfs = sorted(path for path in packed_files._ram_file_systems() if os.path.isdir(path))
    if not tmpfs:
        pytest.skip("no tmpfs mounted here")
    assert packed_files._has_room(tmpfs[0])
    monkeypatch.setattr(packed_files, "ROOM_IN_MEMORY", 1 << 62)
    assert not packed_files._has_room(tmpfs[0])
