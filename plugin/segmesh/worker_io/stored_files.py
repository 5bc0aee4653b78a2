"""The Part-10 files of instances stored in Orthanc, read where they are used: a worker reads a
series itself, in place in Orthanc's storage area where Orthanc keeps it plainly
(:mod:`segmesh.worker_io.storage_area`), else through the loopback, so no file passes through
Orthanc's interpreter, a pipe or a temporary copy."""

from __future__ import annotations

import urllib.error
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from io import BytesIO
from typing import BinaryIO, TypeVar, overload

from pydicom.dataset import Dataset
from pydicom.tag import Tag

from ..dicom.header_elements import header_elements
from ..dicom.part10 import header_only, read_image
from ..errors import NotFoundError
from .loopback import Loopback
from .storage_area import StoredFile

T = TypeVar("T")

#: Files fetched at once while iterating: each fetch mostly waits on Orthanc's answer.
FETCHERS = 3


def fetched_instance_file(loopback: Loopback, instance_id: str, read: Callable[[str], T]) -> T:
    """``read(path)`` of the Part-10 file of an instance; 404 "Unknown instance" where it is
    gone, also where its file went from the storage area while Orthanc read it (the instance
    being deleted: Orthanc answers 500 for that)."""
    path = f"/instances/{instance_id}/file"
    try:
        return read(path)
    except NotFoundError as error:
        raise NotFoundError("Unknown instance", instance_id) from error
    except urllib.error.HTTPError as error:
        try:
            loopback.read(f"/instances/{instance_id}/metadata")
        except NotFoundError:
            raise NotFoundError("Unknown instance", instance_id) from error
        raise


def _opened(path: str, stored: StoredFile) -> BinaryIO:
    try:
        return open(path, "rb")
    except FileNotFoundError as error:
        raise NotFoundError("Unknown instance", stored.instance_id) from error


def stored_file(loopback: Loopback, stored: StoredFile) -> bytes:
    """The Part-10 file ``stored``: read in place in Orthanc's storage area where it lies there
    plainly, else fetched (:func:`fetched_instance_file`). 404 "Unknown instance" where it is
    gone, also where its file went while it was read."""
    path = loopback.storage.path(stored)
    if path is None:
        return fetched_instance_file(loopback, stored.instance_id, loopback.read)
    with _opened(path, stored) as handle:
        return handle.read()


@dataclass(frozen=True)
class StoredFiles(Sequence[bytes]):
    """The ``files`` of instances (in order), read when indexed (:func:`stored_file`);
    iterating reads a few ahead. 404 "Unknown instance" for one deleted meanwhile."""

    loopback: Loopback
    files: tuple[StoredFile, ...]

    def __len__(self) -> int:
        return len(self.files)

    @overload
    def __getitem__(self, index: int) -> bytes: ...

    @overload
    def __getitem__(self, index: slice) -> list[bytes]: ...

    def __getitem__(self, index: int | slice) -> bytes | list[bytes]:
        if isinstance(index, slice):
            return [self[n] for n in range(len(self))[index]]
        return stored_file(self.loopback, self.files[index])

    def __iter__(self) -> Iterator[bytes]:
        with ThreadPoolExecutor(FETCHERS, thread_name_prefix="segmesh-fetch") as pool:
            ahead: deque[Future[bytes]] = deque()
            for index in range(len(self)):
                ahead.append(pool.submit(self.__getitem__, index))
                if len(ahead) > FETCHERS:
                    yield ahead.popleft().result()
            while ahead:
                yield ahead.popleft().result()

    def streams(self) -> Iterator[BinaryIO]:
        """Each file as a binary stream, in order, each closed when the next is asked for:
        opened where it lies in the storage area, so that a reader stopping at the pixel data
        reads no further (a CT header is a few kilobytes of a 0.5 MB file), else fetched whole
        as iterating does."""
        paths = [self.loopback.storage.path(stored) for stored in self.files]
        if None in paths:
            yield from map(BytesIO, self)
            return
        for stored, path in zip(self.files, paths, strict=True):
            assert path is not None
            with _opened(path, stored) as handle:
                yield handle


def file_streams(files: Sequence[bytes]) -> Iterator[BinaryIO]:
    """``files`` as binary streams, in order (:meth:`StoredFiles.streams` for stored files)."""
    return files.streams() if isinstance(files, StoredFiles) else map(BytesIO, files)


def read_headers(files: Sequence[bytes], keywords: Sequence[str] | None = None) -> list[Dataset]:
    """The attributes before the pixel data of each file (:func:`header_only`), read only as
    far as the pixel data where the file is on disk (:func:`file_streams`). Where
    ``keywords`` are given, those alone: found in the file's bytes (:func:`header_elements`,
    a fifth of pydicom's time), else read by pydicom."""
    if keywords is None:
        return [header_only(read_image(stream, True)) for stream in file_streams(files)]
    tags = [int(Tag(keyword)) for keyword in keywords]
    headers = []
    for stream in file_streams(files):
        found = header_elements(stream, tags)
        if found is None:
            stream.seek(0)
            found = header_only(read_image(stream, True, keywords))
        headers.append(found)
    return headers
