"""Large arrays in files on disk: how label maps and image volumes travel to and from worker
processes. An array pickled through a pipe is copied four times; a file is written once to the
page cache and mapped by the reader.

What a worker hands back may go to a RAM file system instead (:data:`SHARED_MEMORY`, where it
has room): its files are never written to a disk, and the caller maps them instead of copying
them (:meth:`PackedArray.kept`). On the disk's file system (ext4 here), writing a first label
map's 78 MB of layers just after Orthanc had stored a file took 0.2 s instead of 0.03 s in half
the first requests; in /dev/shm, 0.03 s in all."""

from __future__ import annotations

import contextlib
import errno
import functools
import math
import os
import tempfile
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

#: The RAM file system where :func:`temporary_path` puts what workers hand back, where it has
#: room (:data:`ROOM_IN_MEMORY`).
SHARED_MEMORY = "/dev/shm"
#: Free space (bytes) :data:`SHARED_MEMORY` must have for a temporary path to be made there: room
#: for the layers of a 1000-segment map (300 MB) a few times over.
ROOM_IN_MEMORY = 1 << 30


def _on_disk(path: str) -> str:
    """The name a path in :data:`SHARED_MEMORY` has in the temporary folder on disk."""
    return os.path.join(tempfile.gettempdir(), os.path.basename(path))


def write_handed_back(data: bytes | memoryview, path: str) -> str:
    """``data`` written to ``path`` (:func:`temporary_path`'s), or, where that is in
    :data:`SHARED_MEMORY` and the room ran out there meanwhile, to its name on disk. The path
    written."""
    try:
        _write(path, data)
        return path
    except OSError as error:
        if error.errno != errno.ENOSPC or os.path.dirname(path) != SHARED_MEMORY:
            raise
        _remove(path)
    _write(_on_disk(path), data)
    return _on_disk(path)


def _write(path: str, data: bytes | memoryview) -> None:
    with open(path, "wb") as handle:
        handle.write(data)


@dataclass(frozen=True)
class PackedArray:
    """An array of ``dtype`` and ``shape`` in C order in the file at ``path``: how a large array
    travels between processes (written once to the page cache instead of pickled through a
    pipe, where it is copied four times)."""

    path: str
    dtype: str
    shape: tuple[int, ...]

    @classmethod
    def write(cls, array: npt.NDArray[Any], path: str) -> PackedArray:
        """``array`` written to ``path`` (replacing what it held; see
        :func:`write_handed_back`)."""
        data = np.ascontiguousarray(array)
        path = write_handed_back(data.reshape(-1).view(np.uint8).data, path)
        return cls(path, data.dtype.str, tuple(int(n) for n in data.shape))

    def mapped(self) -> npt.NDArray[Any]:
        """The array mapped read-only from the file (no copy; valid while the file is)."""
        if not math.prod(self.shape):  # an empty file cannot be mapped
            empty = np.empty(self.shape, np.dtype(self.dtype))
            empty.flags.writeable = False
            return empty
        return np.asarray(np.memmap(self.path, np.dtype(self.dtype), "r", shape=self.shape))

    def kept(self) -> npt.NDArray[Any]:
        """The array for the caller to keep (the file may go afterwards): where the file is in
        :data:`SHARED_MEMORY`, mapped copy-on-write (no copy, no new memory: reading 300 MB of
        layers into new memory took 0.4 to 0.9 s on a virtual machine), else read (a file on
        disk that stayed mapped would be written to the disk)."""
        if os.path.dirname(self.path) != SHARED_MEMORY or not math.prod(self.shape):
            return self.read()
        return np.asarray(np.memmap(self.path, np.dtype(self.dtype), "c", shape=self.shape))

    def read(self) -> npt.NDArray[Any]:
        """The array read into memory (the file may go afterwards)."""
        count = math.prod(self.shape)
        return np.fromfile(self.path, np.dtype(self.dtype), count).reshape(self.shape)

    def read_box(self, layer: int, box: tuple[slice, slice, slice]) -> npt.NDArray[Any]:
        """``array[layer][box]`` of a (layers, slices, rows, columns) array, read into memory
        (a copy): one read of the box's rows per slice. Not mapped: pages mapped in count as
        the reader's resident memory, and the boxes of many small segments scattered over a
        volume map nearly all of it."""
        _, slices, rows, columns = self.shape
        dtype = np.dtype(self.dtype)
        k0, k1, _ = box[0].indices(slices)
        j0, j1, _ = box[1].indices(rows)
        values = np.empty((max(k1 - k0, 0), max(j1 - j0, 0), columns), dtype)
        row_bytes = columns * dtype.itemsize
        with open(self.path, "rb", buffering=0) as handle:
            for n, k in enumerate(range(k0, k1)):
                offset = ((layer * slices + k) * rows + j0) * row_bytes
                target = values[n].reshape(-1).view(np.uint8)
                if os.preadv(handle.fileno(), [target], offset) != target.size:
                    raise EOFError(f"{self.path}: shorter than {self.shape}")
        return values[:, :, box[2]]

    def slabs(self, layer: int, thickness: int = 16) -> Iterator[tuple[int, npt.NDArray[Any]]]:
        """Each slab of ``thickness`` slices of layer ``layer`` in order, with its first slice
        index: (slices, rows, columns), read one at a time (:meth:`read_box`)."""
        slices = self.shape[1]
        for start in range(0, slices, thickness):
            box = (slice(start, min(start + thickness, slices)), slice(None), slice(None))
            yield start, self.read_box(layer, box)


@contextmanager
def packed_array(array: npt.NDArray[Any]) -> Iterator[PackedArray]:
    """``array`` in a temporary file, removed on leaving."""
    with temporary_path(".npy-raw") as path:
        yield PackedArray.write(array, path)


@contextmanager
def temporary_path(
    suffix: str, remove_later: bool = False, in_memory: bool = False
) -> Iterator[str]:
    """The path of a new empty temporary file, removed on leaving: where a worker writes what
    it sends back. ``in_memory``: made in :data:`SHARED_MEMORY` where that has room (and then
    also its name on disk removed, see :func:`write_handed_back`). ``remove_later``: removed by
    :func:`remover`'s thread, so that the caller does not wait for it (removing the 78 MB
    layers of 100 segments on a 512 x 512 x 300 grid frees their pages: 0.03 s of the first
    label map's answer)."""
    folder = SHARED_MEMORY if in_memory and _has_room(SHARED_MEMORY) else None
    handle, path = tempfile.mkstemp(prefix="segmesh-", suffix=suffix, dir=folder)
    os.close(handle)
    try:
        yield path
    finally:
        if remove_later:
            try:
                remover().submit(_remove, path)
            except RuntimeError:  # the interpreter is exiting: its threads take no more work
                _remove(path)
        else:
            _remove(path)


def _has_room(folder: str) -> bool:
    """Whether ``folder`` is a RAM file system with :data:`ROOM_IN_MEMORY` free."""
    if folder not in _ram_file_systems():
        return False
    try:
        stats = os.statvfs(folder)
    except OSError:  # mounted out of this process's sight (a chroot's own root)
        return False
    return stats.f_bavail * stats.f_frsize >= ROOM_IN_MEMORY


@functools.cache
def _ram_file_systems() -> frozenset[str]:
    """Where this process sees a tmpfs mounted (none where /proc is not)."""
    try:
        with open("/proc/self/mounts", encoding="utf-8") as mounts:
            fields = [line.split() for line in mounts]
    except OSError:
        return frozenset()
    return frozenset(field[1] for field in fields if len(field) > 2 and field[2] == "tmpfs")


def _remove(path: str) -> None:
    in_memory = os.path.dirname(path) == SHARED_MEMORY
    for name in (path, _on_disk(path)) if in_memory else (path,):
        with contextlib.suppress(FileNotFoundError):
            os.unlink(name)


@functools.cache
def remover() -> ThreadPoolExecutor:
    """The one thread that removes temporary files in the order given (the interpreter's exit
    waits for those pending)."""
    return ThreadPoolExecutor(1, thread_name_prefix="segmesh-remove")
