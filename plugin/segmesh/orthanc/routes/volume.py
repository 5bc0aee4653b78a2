"""``GET /instances/{id}/segmesh/volume``: what the viewer draws its three planes from, fetched
once: the grid (JSON), the label map (``volume/labels.npy``) and the image
(``volume/image.npy``) as compact arrays; and what its first view is drawn from meanwhile,
the three planes through one voxel (``volume/planes/{image|labels}.npy``).

The label map is the overlay's (every segment, default grid, from the shared cache), so that
the planes and the overlays agree voxel for voxel.
"""

from __future__ import annotations

from ...formats import to_npy
from ...images.cross_sections import checked_voxel, cross_sections
from ...requests.queries import voxel_of_query
from ...service.loaded_source import LoadedSource
from ...service.tasks.context import TaskContext
from ...service.tasks.labelmaps import load_labelmap
from ...service.tasks.volumes import referenced_image_planes_npy, referenced_image_volume_npy
from ..http import INSTANCE_ROUTE, Answer, Request, register_route
from .overlay import OVERLAY_OPTIONS

NPY = "application/octet-stream"


class VolumeRoute:
    """The volume routes, with the task context (and its label-map cache) they use."""

    def __init__(self, context: TaskContext) -> None:
        self.context = context

    def _loaded(self, source_id: str) -> LoadedSource:
        return load_labelmap(source_id, OVERLAY_OPTIONS, self.context)

    def grid(self, request: Request) -> Answer:
        """Shape (slices, rows, columns), affine, slice positions (slices, 3) LPS mm, the
        segments (``Layer`` and ``Value`` in ``labels.npy``), and the image series."""
        loaded = self._loaded(request.groups[0])
        labelmap = loaded.labelmap
        geometry = labelmap.geometry
        return Answer.json(
            {
                **geometry.to_json(),
                "SlicePositions": geometry.slice_positions.tolist(),
                "Layers": int(labelmap.layers.shape[0]),
                "Segments": [segment.to_json() for segment in labelmap.segments],
                "ImageSeries": loaded.series_id,
            }
        )

    def labels(self, request: Request) -> Answer:
        """(layers, slices, rows, columns) labels (uint8 or uint16) as .npy."""
        return Answer(to_npy(self._loaded(request.groups[0]).labelmap.layers), NPY)

    def image(self, request: Request) -> Answer:
        """(slices, rows, columns) image values after the modality rescale as .npy."""
        return Answer(referenced_image_volume_npy(request.groups[0], self.context), NPY)

    def planes(self, request: Request) -> Answer:
        """``volume/planes/{image|labels}.npy?voxel=i,j,k`` (the centre by default): the image
        values (after the rescale) or the (layers, ...) labels on the three planes through the
        voxel, raveled one after another (:mod:`segmesh.images.cross_sections`): the viewer's first
        view, drawn while the volumes load."""
        source_id, what = request.groups
        voxel = voxel_of_query(request.query)
        if what == "image":
            return Answer(referenced_image_planes_npy(source_id, voxel, self.context), NPY)
        layers = self._loaded(source_id).labelmap.layers
        return Answer(to_npy(cross_sections(layers, checked_voxel(layers.shape[1:], voxel))), NPY)

    def register(self) -> None:
        """Register the four routes."""
        register_route(f"{INSTANCE_ROUTE}/volume", ("GET",), self.grid)
        register_route(
            rf"{INSTANCE_ROUTE}/volume/labels\.npy", ("GET",), self.labels, audit="segmesh-volume"
        )
        register_route(
            rf"{INSTANCE_ROUTE}/volume/image\.npy", ("GET",), self.image, audit="segmesh-volume"
        )
        register_route(
            rf"{INSTANCE_ROUTE}/volume/planes/(image|labels)\.npy", ("GET",), self.planes
        )
