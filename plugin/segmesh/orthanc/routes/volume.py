"""``GET /instances/{id}/segmesh/volume``: what the viewer draws its three planes from, fetched
once: the grid (JSON), the label map (``volume/labels.npy``) and the image
(``volume/image.npy``) as compact arrays.

The label map is the overlay's (every segment, default grid, from the shared cache), so that
the planes and the overlays agree voxel for voxel.
"""

from __future__ import annotations

from ...errors import NotFoundError
from ...formats import to_npy
from .. import store
from ..cache import CachedLabelMap, LabelMapCache
from ..http import INSTANCE_ROUTE, Answer, Request, register_route
from ..tasks.context import TaskContext
from ..tasks.volumes import referenced_image_volume_npy
from .overlay import OVERLAY_OPTIONS

NPY = "application/octet-stream"


class VolumeRoute:
    """The volume routes, with the task context and the label map cache they use."""

    def __init__(self, context: TaskContext, cache: LabelMapCache) -> None:
        self.context = context
        self.cache = cache

    def _cached(self, source_id: str) -> CachedLabelMap:
        try:
            store.instance_summary(source_id)
        except NotFoundError:
            self.cache.forget(source_id)
            raise
        return self.cache.get(source_id, OVERLAY_OPTIONS)

    def grid(self, request: Request) -> Answer:
        """Shape (slices, rows, columns), affine, slice positions (slices, 3) LPS mm, the
        segments (``Layer`` and ``Value`` in ``labels.npy``), and the image series."""
        cached = self._cached(request.groups[0])
        labelmap = cached.source.labelmap
        geometry = labelmap.geometry
        return Answer.json(
            {
                **geometry.to_json(),
                "SlicePositions": geometry.slice_positions.tolist(),
                "Layers": int(labelmap.layers.shape[0]),
                "Segments": [segment.to_json() for segment in labelmap.segments],
                "ImageSeries": cached.source.series_id,
            }
        )

    def labels(self, request: Request) -> Answer:
        """(layers, slices, rows, columns) labels (uint8 or uint16) as .npy."""
        cached = self._cached(request.groups[0])
        return Answer(to_npy(cached.source.labelmap.layers), NPY)

    def image(self, request: Request) -> Answer:
        """(slices, rows, columns) image values after the modality rescale as .npy."""
        return Answer(referenced_image_volume_npy(request.groups[0], self.context), NPY)

    def register(self) -> None:
        """Register the three routes."""
        register_route(f"{INSTANCE_ROUTE}/volume", ("GET",), self.grid)
        register_route(rf"{INSTANCE_ROUTE}/volume/labels\.npy", ("GET",), self.labels)
        register_route(rf"{INSTANCE_ROUTE}/volume/image\.npy", ("GET",), self.image)
