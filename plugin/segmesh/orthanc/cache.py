"""A bounded LRU of decoded label maps, so that scrolling through overlays does not decode again.

One cache is created in :func:`segmesh.orthanc.register` from ``Settings.cache_megabytes`` and
passed to the routes that use it. It only speeds things up: every entry can be rebuilt from
Orthanc, and an entry is dropped as soon as its source instance is gone.
"""

from __future__ import annotations

import dataclasses
import threading
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from ..geometry import Plane, image_planes
from ..options import LabelMapOptions
from ..settings import Settings
from .labelmaps import LoadedSource, load_labelmap

CacheKey = tuple[str, LabelMapOptions]
Loader = Callable[[str, LabelMapOptions, Settings], LoadedSource]


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
        """Memory held, approximately: the label map and the source's pixel data."""
        pixel_data = self.source.dataset.get("PixelData") or b""
        return int(self.source.labelmap.layers.nbytes) + len(pixel_data)


def _cached(source: LoadedSource) -> CachedLabelMap:
    planes = {str(image.SOPInstanceUID): image_planes(image)[0] for image in source.images or []}
    # The images' pixels are not needed for overlays and would dominate the memory held.
    return CachedLabelMap(dataclasses.replace(source, images=None), planes)


class LabelMapCache:
    """Least recently used label maps, keyed by (instance id, options), within a byte budget.

    Thread-safe: Orthanc calls routes from several threads; concurrent requests for the same
    key wait for one load instead of decoding the same source in parallel.
    """

    def __init__(self, settings: Settings, loader: Loader = load_labelmap) -> None:
        self.settings = settings
        self.max_bytes = settings.cache_megabytes * 1024 * 1024
        self._loader = loader
        self._entries: OrderedDict[CacheKey, CachedLabelMap] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()
        self._loading: dict[CacheKey, threading.Lock] = {}

    @property
    def bytes_held(self) -> int:
        """Bytes held by the entries now."""
        return self._bytes

    def __len__(self) -> int:
        return len(self._entries)

    def _lookup(self, key: CacheKey) -> CachedLabelMap | None:
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None:
                self._entries.move_to_end(key)
            return entry

    def get(self, instance_id: str, options: LabelMapOptions) -> CachedLabelMap:
        """The label map of ``instance_id`` with ``options``, loaded on a miss."""
        key = (instance_id, options)
        entry = self._lookup(key)
        if entry is not None:
            return entry
        with self._lock:
            loading = self._loading.setdefault(key, threading.Lock())
        try:
            with loading:
                entry = self._lookup(key)
                if entry is None:
                    entry = _cached(self._loader(instance_id, options, self.settings))
                    self._store(key, entry)
        finally:
            with self._lock:
                self._loading.pop(key, None)
        return entry

    def _store(self, key: CacheKey, entry: CachedLabelMap) -> None:
        size = entry.nbytes
        if size > self.max_bytes:
            return  # larger than the whole budget: served once, not kept
        with self._lock:
            old = self._entries.pop(key, None)
            if old is not None:
                self._bytes -= old.nbytes
            while self._entries and self._bytes + size > self.max_bytes:
                _, evicted = self._entries.popitem(last=False)
                self._bytes -= evicted.nbytes
            self._entries[key] = entry
            self._bytes += size

    def forget(self, instance_id: str) -> None:
        """Drop every entry of ``instance_id`` (deleted or replaced)."""
        with self._lock:
            for key in [key for key in self._entries if key[0] == instance_id]:
                self._bytes -= self._entries.pop(key).nbytes
