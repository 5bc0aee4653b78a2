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

from ..lru import ByteBudgetLRU
from ..options import LabelMapOptions
from .tasks.labelmaps import LoadedSource

CacheKey = tuple[str, LabelMapOptions]


class LabelMapCache:
    """Least recently used label maps, keyed by (instance id, options), within ``megabytes``;
    see :class:`segmesh.lru.ByteBudgetLRU`."""

    def __init__(self, megabytes: int) -> None:
        self._entries: ByteBudgetLRU[CacheKey, LoadedSource] = ByteBudgetLRU(
            megabytes * 1024 * 1024, lambda entry: entry.nbytes
        )

    def get(
        self, instance_id: str, options: LabelMapOptions, load: Callable[[], LoadedSource]
    ) -> LoadedSource:
        """The label map of ``instance_id`` with ``options``, from ``load()`` on a miss."""
        return self._entries.get((instance_id, options), load)

    def entries_of(self, instance_id: str) -> int:
        """How many label maps of ``instance_id`` (one per set of options) are held."""
        return self._entries.count(lambda key: key[0] == instance_id)

    def forget(self, instance_id: str) -> None:
        """Drop every entry of ``instance_id`` (deleted, replaced, or its images changed)."""
        self._entries.discard(lambda key: key[0] == instance_id)
