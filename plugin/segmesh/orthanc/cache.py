"""A bounded LRU of decoded label maps, so that scrolling through overlays does not decode again.

One cache is created in :func:`segmesh.orthanc.register` from ``Settings.cache_megabytes`` and
passed to the routes that use it. It only speeds things up: every entry can be rebuilt from
Orthanc, and an entry is dropped as soon as its source instance is gone.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from ..geometry import Plane, image_planes
from ..lru import ByteBudgetLRU
from ..options import LabelMapOptions
from .tasks.context import TaskContext
from .tasks.labelmaps import LoadedSource, load_labelmap

CacheKey = tuple[str, LabelMapOptions]
Loader = Callable[[str, LabelMapOptions, TaskContext], LoadedSource]


@dataclass(frozen=True)
class CachedLabelMap:
    """A loaded source without its image pixels, and the plane of each referenced image.

    ``planes`` maps the SOPInstanceUID of each image of the referenced series to its first
    frame's plane (empty on the native grid).
    """

    source: LoadedSource
    planes: Mapping[str, Plane]

    @property
    def nbytes(self) -> int:
        """Memory held, approximately: the label map (the source is kept without pixels)."""
        return int(self.source.labelmap.layers.nbytes)


def _cached(source: LoadedSource) -> CachedLabelMap:
    planes = {str(image.SOPInstanceUID): image_planes(image)[0] for image in source.images or []}
    # Overlays need only the images' planes: the datasets themselves are not kept.
    return CachedLabelMap(dataclasses.replace(source, images=None), planes)


class LabelMapCache:
    """Least recently used label maps, keyed by (instance id, options), within
    ``Settings.cache_megabytes``; see :class:`segmesh.lru.ByteBudgetLRU`."""

    def __init__(self, context: TaskContext, loader: Loader = load_labelmap) -> None:
        self.context = context
        self._loader = loader
        self._entries: ByteBudgetLRU[CacheKey, CachedLabelMap] = ByteBudgetLRU(
            context.settings.cache_megabytes * 1024 * 1024, lambda entry: entry.nbytes
        )

    def get(self, instance_id: str, options: LabelMapOptions) -> CachedLabelMap:
        """The label map of ``instance_id`` with ``options``, loaded on a miss."""
        return self._entries.get(
            (instance_id, options),
            lambda: _cached(self._loader(instance_id, options, self.context)),
        )

    def forget(self, instance_id: str) -> None:
        """Drop every entry of ``instance_id`` (deleted or replaced)."""
        self._entries.discard(lambda key: key[0] == instance_id)
