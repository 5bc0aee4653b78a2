"""A bounded LRU of decoded label maps, so that scrolling through overlays does not decode again.

One cache is created in :func:`segmesh.orthanc.register` from ``Settings.cache_megabytes`` and
passed to the routes that use it. It only speeds things up: every entry can be rebuilt from
Orthanc. An entry is dropped as soon as its source instance is gone: on Orthanc's DELETED change
(:mod:`.events`), and, since change events reach only the node that deleted, wherever a request
finds the instance gone or stored anew under the same id (another file: ``FileUuid``). A source
deleted while it was loading is not kept.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from ..errors import NotFoundError
from ..geometry import Plane, image_planes
from ..lru import ByteBudgetLRU
from ..options import LabelMapOptions
from . import store
from .tasks.context import TaskContext
from .tasks.labelmaps import LoadedSource, load_labelmap

CacheKey = tuple[str, LabelMapOptions]
Loader = Callable[[str, LabelMapOptions, TaskContext], LoadedSource]


@dataclass(frozen=True)
class CachedLabelMap:
    """A loaded source without its image pixels, and the plane of each referenced image.

    ``planes`` maps the SOPInstanceUID of each image of the referenced series to its first
    frame's plane (empty on the native grid); ``file_uuid`` is Orthanc's id of the source's
    file when it was read.
    """

    source: LoadedSource
    planes: Mapping[str, Plane]
    file_uuid: str

    @property
    def nbytes(self) -> int:
        """Memory held, approximately: the label map (the source is kept without pixels)."""
        return int(self.source.labelmap.layers.nbytes)


def _cached(source: LoadedSource, file_uuid: str) -> CachedLabelMap:
    planes = {str(image.SOPInstanceUID): image_planes(image)[0] for image in source.images or []}
    # Overlays need only the images' planes: the datasets themselves are not kept.
    return CachedLabelMap(dataclasses.replace(source, images=None), planes, file_uuid)


class LabelMapCache:
    """Least recently used label maps, keyed by (instance id, options), within
    ``Settings.cache_megabytes``; see :class:`segmesh.lru.ByteBudgetLRU`."""

    def __init__(self, context: TaskContext, loader: Loader = load_labelmap) -> None:
        self.context = context
        self._loader = loader
        self._entries: ByteBudgetLRU[CacheKey, CachedLabelMap] = ByteBudgetLRU(
            context.settings.cache_megabytes * 1024 * 1024, lambda entry: entry.nbytes
        )

    def get(self, instance_id: str, options: LabelMapOptions, file_uuid: str) -> CachedLabelMap:
        """The label map of ``instance_id`` with ``options``, loaded on a miss or where the
        entry is of another file than ``file_uuid`` (the instance's ``FileUuid`` now)."""
        key = (instance_id, options)
        cached = self._entries.get(key, lambda: self._load(instance_id, options, file_uuid))
        if cached.file_uuid != file_uuid:
            self.forget(instance_id)
            cached = self._entries.get(key, lambda: self._load(instance_id, options, file_uuid))
        return cached

    def _load(self, instance_id: str, options: LabelMapOptions, file_uuid: str) -> CachedLabelMap:
        cached = _cached(self._loader(instance_id, options, self.context), file_uuid)
        # Deleted while it loaded: its DELETED change has passed, so it must not be kept.
        if not store.exists("instances", instance_id):
            raise NotFoundError("Unknown instance", instance_id)
        return cached

    def entries_of(self, instance_id: str) -> int:
        """How many label maps of ``instance_id`` (one per set of options) are held."""
        return self._entries.count(lambda key: key[0] == instance_id)

    def forget(self, instance_id: str) -> None:
        """Drop every entry of ``instance_id`` (deleted or replaced)."""
        self._entries.discard(lambda key: key[0] == instance_id)
