"""A bounded LRU of loaded label maps, so that scrolling through overlays or asking for the same
label map again does not decode again.

One cache is created in :func:`segmesh.orthanc.register` from ``Settings.cache_megabytes`` and
handed to the tasks in their :class:`~.tasks.context.TaskContext`; only
:func:`~.tasks.labelmaps.load_labelmap` fills it. It only speeds things up: every entry can be
rebuilt from Orthanc. An entry is dropped as soon as its source instance is gone: on Orthanc's
DELETED change (:mod:`.events`), and, since change events reach only the node that deleted,
wherever a request finds the instance gone or stored anew under the same id (another file).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from ..dicom.description import SourceDescription
from ..lru import ByteBudgetLRU
from ..options import LabelMapOptions
from .tasks.labelmaps import LoadedSource

CacheKey = tuple[str, LabelMapOptions]
#: The budget of source descriptions, and what one segment of one is counted for (about its
#: size as Python objects): a few thousand sources of a hundred segments.
DESCRIPTION_BYTES = 64 * 1024 * 1024
DESCRIPTION_SEGMENT_BYTES = 2048


@dataclass(frozen=True)
class _Described:
    """A source's description, and Orthanc's id of the file it was read from."""

    file_uuid: str
    description: SourceDescription

    @property
    def nbytes(self) -> int:
        return DESCRIPTION_SEGMENT_BYTES * (1 + len(self.description.segments))


class LabelMapCache:
    """Least recently used label maps, keyed by (instance id, options), within ``megabytes``;
    see :class:`segmesh.lru.ByteBudgetLRU`."""

    def __init__(self, megabytes: int) -> None:
        self._entries: ByteBudgetLRU[CacheKey, LoadedSource] = ByteBudgetLRU(
            megabytes * 1024 * 1024, lambda entry: entry.nbytes
        )
        # Kept apart: the segments route must not read a whole SEG file for its header again,
        # nor be evicted by large label maps.
        self._descriptions: ByteBudgetLRU[str, _Described] = ByteBudgetLRU(
            DESCRIPTION_BYTES, lambda entry: entry.nbytes
        )

    def get(
        self, instance_id: str, options: LabelMapOptions, load: Callable[[], LoadedSource]
    ) -> LoadedSource:
        """The label map of ``instance_id`` with ``options``, from ``load()`` on a miss."""
        return self._entries.get((instance_id, options), load)

    def description(
        self, instance_id: str, file_uuid: str, load: Callable[[], SourceDescription]
    ) -> SourceDescription:
        """The description of ``instance_id`` read from its file ``file_uuid``, from ``load()``
        on a miss or where the instance was stored anew (another file) since."""

        def described() -> _Described:
            return _Described(file_uuid, load())

        entry = self._descriptions.get(instance_id, described)
        if entry.file_uuid != file_uuid:
            self._descriptions.discard(lambda key: key == instance_id)
            entry = self._descriptions.get(instance_id, described)
        return entry.description

    def entries_of(self, instance_id: str) -> int:
        """How many label maps of ``instance_id`` (one per set of options) are held."""
        return self._entries.count(lambda key: key[0] == instance_id)

    def forget(self, instance_id: str) -> None:
        """Drop every entry of ``instance_id`` (deleted, replaced, or its images changed)."""
        self._entries.discard(lambda key: key[0] == instance_id)
        self._descriptions.discard(lambda key: key == instance_id)
