"""``GET /instances/{id}/segmesh/overlay/{imageId}.png``: the label map drawn on one image."""

from __future__ import annotations

from ...errors import NotFoundError
from ...options import LabelMapOptions
from ...overlay import overlay_png
from ...requests.overlay_query import overlay_style
from ...service import store
from ...service.tasks.context import TaskContext
from ...service.tasks.labelmaps import load_labelmap
from ..http import INSTANCE_ROUTE, Answer, Request, register_route
from .labelmap import ORIGIN_HEADER

#: Overlays use every segment on the default grid; the style picks segments when drawing, so
#: toggling segments in a viewer never decodes the source again.
OVERLAY_OPTIONS = LabelMapOptions()


class OverlayRoute:
    """The overlay route, with the context (and its label-map cache) its work runs in."""

    def __init__(self, context: TaskContext) -> None:
        self.context = context

    def overlay(self, request: Request) -> Answer:
        """An RGBA PNG of the image's size: the segments at that image's plane."""
        source_id, image_id = request.groups
        style = overlay_style(request.query)
        # A series that has grown since is loaded again (load_labelmap checks its images), and
        # a source that is gone is 404 and leaves the cache. So an image of that series whose
        # plane the label map holds is stored now: its identity need not be asked again.
        loaded = load_labelmap(source_id, OVERLAY_OPTIONS, self.context)
        series_id, sop_instance_uid = store.image_identity(self.context.host, image_id)
        plane = loaded.planes.get(sop_instance_uid)
        if series_id != loaded.series_id or plane is None:
            if not self.context.host.exists("instances", image_id):  # it went since
                raise NotFoundError("Unknown image", image_id)
            raise NotFoundError(
                "Image not in the referenced series",
                f"image {image_id} is not an image of the series that {source_id} references",
            )
        return Answer(
            overlay_png(loaded.labelmap, plane, style),
            "image/png",
            {"Cache-Control": "no-cache", ORIGIN_HEADER: loaded.origin.value},
        )

    def register(self) -> None:
        """Register the route."""
        register_route(rf"{INSTANCE_ROUTE}/overlay/([^/]+)\.png", ("GET",), self.overlay)
