"""Part-10 files packed one after another in a file on disk: how a large SEG travels to a
worker process without a copy in memory. Bytes pickle whole: for a moment the sender holds the
file twice, and so does the worker while it unpickles it. Large arrays (label maps, image
volumes) travel the same way, in both directions."""

from __future__ import annotations

import math
import tempfile
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, overload

import numpy as np
import numpy.typing as npt


@dataclass(frozen=True)
class PackedFiles(Sequence[bytes]):
    """The files at ``spans`` (offset, length in bytes) of the file at ``path``; each is read
    from disk when indexed (the page cache keeps a second read cheap)."""

    path: str
    spans: tuple[tuple[int, int], ...]

    def __len__(self) -> int:
        return len(self.spans)

    @overload
    def __getitem__(self, index: int) -> bytes: ...

    @overload
    def __getitem__(self, index: slice) -> list[bytes]: ...

    def __getitem__(self, index: int | slice) -> bytes | list[bytes]:
        if isinstance(index, slice):
            return [self[n] for n in range(len(self))[index]]
        offset, length = self.spans[index]
        with open(self.path, "rb") as handle:
            handle.seek(offset)
            return handle.read(length)

    def __iter__(self) -> Iterator[bytes]:
        return (self[n] for n in range(len(self)))


@contextmanager
def packed_files(files: Iterable[bytes]) -> Iterator[PackedFiles]:
    """``files`` written one after another into a temporary file (each taken from the
    iterable as it is written: one held at a time), removed on leaving."""
    with tempfile.NamedTemporaryFile(prefix="segmesh-", suffix=".dcm-pack") as handle:
        spans = []
        for data in files:
            spans.append((handle.tell(), len(data)))
            handle.write(data)
        handle.flush()
        yield PackedFiles(handle.name, tuple(spans))


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
        """``array`` written to ``path`` (replacing what it held)."""
        data = np.ascontiguousarray(array)
        with open(path, "wb") as handle:
            handle.write(data.reshape(-1).view(np.uint8).data)
        return cls(path, data.dtype.str, tuple(int(n) for n in data.shape))

    def mapped(self) -> npt.NDArray[Any]:
        """The array mapped read-only from the file (no copy; valid while the file is)."""
        if not math.prod(self.shape):  # an empty file cannot be mapped
            empty = np.empty(self.shape, np.dtype(self.dtype))
            empty.flags.writeable = False
            return empty
        return np.asarray(np.memmap(self.path, np.dtype(self.dtype), "r", shape=self.shape))

    def read(self) -> npt.NDArray[Any]:
        """The array read into memory (the file may go afterwards)."""
        count = math.prod(self.shape)
        return np.fromfile(self.path, np.dtype(self.dtype), count).reshape(self.shape)


@contextmanager
def packed_array(array: npt.NDArray[Any]) -> Iterator[PackedArray]:
    """``array`` in a temporary file, removed on leaving."""
    with temporary_path(".npy-raw") as path:
        yield PackedArray.write(array, path)


@contextmanager
def temporary_path(suffix: str) -> Iterator[str]:
    """The path of a new empty temporary file, removed on leaving: where a worker writes what
    it sends back."""
    with tempfile.NamedTemporaryFile(prefix="segmesh-", suffix=suffix) as handle:
        yield handle.name
