"""Part-10 files packed one after another in a file on disk: how a large series travels to a
worker process without either process holding all of it. A list of bytes pickles whole: for a
moment the sender holds the files twice, and so does the worker while it unpickles them."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import overload


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
