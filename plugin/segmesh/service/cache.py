"""A bounded LRU of loaded label maps, so that scrolling through overlays or asking for the same
label map again does not decode again; beside it, the sources' descriptions, the label-map
files written and the label maps' segment statistics, so that none is read, written or
measured twice from the same file.

One cache is created in :func:`segmesh.orthanc.register` from ``Settings.cache_megabytes`` and
handed to the tasks in their :class:`~.tasks.context.TaskContext`; only the tasks of
:mod:`.tasks.labelmaps`, :mod:`.tasks.labelmap_files` and :mod:`.tasks.statistics` fill it. It
only speeds things up: every entry can be rebuilt from Orthanc. An entry is dropped as soon as
a request finds its source instance gone or stored anew under the same id (another file): each
entry keeps the stamp of what it was made from. (segmesh registers no change callback, so the
DELETED change does not reach it: :mod:`.lifecycle` says why.)
"""

from __future__ import annotations

import json
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import Generic, TypeVar

from ..formats import ExportedFile
from ..options import LabelMapOptions
from ..source_description import SourceDescription
from ..statistics import SegmentStatistics
from .loaded_source import LoadedSource
from .lru import ByteBudgetLRU

CacheKey = tuple[str, LabelMapOptions]
#: The budget of source descriptions, and what one segment of one is counted for (about its
#: size as Python objects): a few thousand sources of a hundred segments.
DESCRIPTION_BYTES = 64 * 1024 * 1024
DESCRIPTION_SEGMENT_BYTES = 2048
#: The budget of segment statistics (those of the label maps alone), and what one segment's
#: are counted for: thousands of sources of a hundred segments.
STATISTICS_BYTES = 16 * 1024 * 1024
STATISTICS_SEGMENT_BYTES = 1024
#: The share of ``megabytes`` that written files may hold (they are compressed, label maps not).
FILE_SHARE = 8

Value = TypeVar("Value")


@dataclass(frozen=True)
class _Stamped(Generic[Value]):
    """A value and the stamp of what it was made from (a file's id, a label map's key)."""

    stamp: str
    value: Value
    nbytes: int


class _StampedLRU(Generic[Value]):
    """Values by instance id and request, each made again where its stamp is not current."""

    def __init__(self, max_bytes: int, size_of: Callable[[Value], int]) -> None:
        self._entries: ByteBudgetLRU[tuple[str, Hashable], _Stamped[Value]] = ByteBudgetLRU(
            max_bytes, lambda entry: entry.nbytes
        )
        self._size_of = size_of

    @property
    def bytes_held(self) -> int:
        """Bytes held by the entries now."""
        return self._entries.bytes_held

    def get(
        self, instance_id: str, request: Hashable, stamp: str, make: Callable[[], Value]
    ) -> Value:
        def stamped() -> _Stamped[Value]:
            value = make()
            return _Stamped(stamp, value, self._size_of(value))

        key = (instance_id, request)
        entry = self._entries.get(key, stamped)
        if entry.stamp != stamp:
            self._entries.discard(lambda held: held == key)
            entry = self._entries.get(key, stamped)
        return entry.value

    def peek(self, instance_id: str, request: Hashable, stamp: str) -> Value | None:
        """The value held for ``request`` where it was made from ``stamp``, else None."""
        entry = self._entries.peek((instance_id, request))
        return entry.value if entry is not None and entry.stamp == stamp else None

    def put(self, instance_id: str, request: Hashable, stamp: str, value: Value) -> None:
        """Hold ``value``, made from ``stamp``, for ``request``."""
        self._entries.put((instance_id, request), _Stamped(stamp, value, self._size_of(value)))

    def forget(self, instance_id: str) -> None:
        self._entries.discard(lambda key: key[0] == instance_id)


def _stamp(source: LoadedSource) -> str:
    """What a value made from the label map ``source`` is stamped with: its file and key."""
    return json.dumps([source.file_uuid, source.key], sort_keys=True)


class LabelMapCache:
    """Least recently used label maps, keyed by (instance id, options), within ``megabytes``
    (a ``1 / FILE_SHARE`` of it for written files); see
    :class:`segmesh.service.lru.ByteBudgetLRU`."""

    def __init__(self, megabytes: int) -> None:
        budget = megabytes * 1024 * 1024
        self._entries: ByteBudgetLRU[CacheKey, LoadedSource] = ByteBudgetLRU(
            budget - budget // FILE_SHARE, lambda entry: entry.nbytes
        )
        # Kept apart, so that large label maps never evict them: the segments route must not
        # read a whole SEG file for its header again, nor the labelmap route write a file again.
        self._descriptions: _StampedLRU[SourceDescription] = _StampedLRU(
            DESCRIPTION_BYTES, lambda value: DESCRIPTION_SEGMENT_BYTES * (1 + len(value.segments))
        )
        self._files: _StampedLRU[ExportedFile] = _StampedLRU(
            budget // FILE_SHARE, lambda value: len(value.body)
        )
        # Image figures are never kept: they are of the images as stored now.
        self._statistics: _StampedLRU[list[SegmentStatistics]] = _StampedLRU(
            STATISTICS_BYTES, lambda value: STATISTICS_SEGMENT_BYTES * (1 + len(value))
        )

    def get(
        self, instance_id: str, options: LabelMapOptions, load: Callable[[], LoadedSource]
    ) -> LoadedSource:
        """The label map of ``instance_id`` with ``options``, from ``load()`` on a miss."""
        return self._entries.get((instance_id, options), load)

    def peek(self, instance_id: str, options: LabelMapOptions) -> LoadedSource | None:
        """The label map of ``instance_id`` with ``options`` where held, else None."""
        return self._entries.peek((instance_id, options))

    def description(
        self, instance_id: str, file_uuid: str, load: Callable[[], SourceDescription]
    ) -> SourceDescription:
        """The description of ``instance_id`` read from its file ``file_uuid``, from ``load()``
        on a miss or where the instance was stored anew (another file) since."""
        return self._descriptions.get(instance_id, None, file_uuid, load)

    def file(
        self,
        source: LoadedSource,
        instance_id: str,
        request: Hashable,
        write: Callable[[], ExportedFile],
    ) -> ExportedFile:
        """The file of ``request`` (say, a format) written from the label map ``source`` of
        ``instance_id``, from ``write()`` on a miss or where it was written from another."""
        return self._files.get(instance_id, request, _stamp(source), write)

    def statistics(
        self, source: LoadedSource, instance_id: str, options: LabelMapOptions
    ) -> list[SegmentStatistics] | None:
        """The segment statistics without image figures (those of the label map alone) kept
        of the label map ``source`` of ``instance_id`` with ``options``; None where none are
        kept or they were made from another label map."""
        return self._statistics.peek(instance_id, options, _stamp(source))

    def keep_statistics(
        self,
        source: LoadedSource,
        instance_id: str,
        options: LabelMapOptions,
        statistics: list[SegmentStatistics],
    ) -> None:
        """Keep the ``statistics`` (no image figures) of the label map ``source``."""
        self._statistics.put(instance_id, options, _stamp(source), statistics)

    @property
    def bytes_held(self) -> int:
        """Bytes held now, label maps and written files (a metric)."""
        return self._entries.bytes_held + self._files.bytes_held

    def entries_of(self, instance_id: str) -> int:
        """How many label maps of ``instance_id`` (one per set of options) are held."""
        return self._entries.count(lambda key: key[0] == instance_id)

    def forget(self, instance_id: str) -> None:
        """Drop every entry of ``instance_id`` (deleted, replaced, or its images changed)."""
        self._entries.discard(lambda key: key[0] == instance_id)
        self._descriptions.forget(instance_id)
        self._files.forget(instance_id)
        self._statistics.forget(instance_id)
