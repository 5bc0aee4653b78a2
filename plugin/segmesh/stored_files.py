"""The Part-10 files of instances stored in Orthanc, read where they are used: a worker fetches
a series through the loopback itself, so no file passes through Orthanc's interpreter, a pipe or
a temporary copy."""

from __future__ import annotations

import urllib.error
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import TypeVar, overload

from .errors import NotFoundError
from .loopback import Loopback

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


@dataclass(frozen=True)
class StoredFiles(Sequence[bytes]):
    """The files of ``instance_ids`` (Orthanc ids, in order), fetched when indexed; iterating
    fetches a few ahead. 404 "Unknown instance" for one deleted meanwhile."""

    loopback: Loopback
    instance_ids: tuple[str, ...]

    def __len__(self) -> int:
        return len(self.instance_ids)

    @overload
    def __getitem__(self, index: int) -> bytes: ...

    @overload
    def __getitem__(self, index: slice) -> list[bytes]: ...

    def __getitem__(self, index: int | slice) -> bytes | list[bytes]:
        if isinstance(index, slice):
            return [self[n] for n in range(len(self))[index]]
        return fetched_instance_file(self.loopback, self.instance_ids[index], self.loopback.read)

    def __iter__(self) -> Iterator[bytes]:
        with ThreadPoolExecutor(FETCHERS, thread_name_prefix="segmesh-fetch") as pool:
            ahead: deque[Future[bytes]] = deque()
            for index in range(len(self)):
                ahead.append(pool.submit(self.__getitem__, index))
                if len(ahead) > FETCHERS:
                    yield ahead.popleft().result()
            while ahead:
                yield ahead.popleft().result()
