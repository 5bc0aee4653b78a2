"""``GET /instances/{id}/segmesh/overlay/{imageId}.png``: the label map drawn on one image."""

from __future__ import annotations

from ...errors import NotFoundError
from ...options import LabelMapOptions
from ...overlay import OverlayStyle, overlay_png
from .. import store
from ..cache import LabelMapCache
from ..http import INSTANCE_ROUTE, Answer, Request, register_route

#: Overlays use every segment on the default grid; the style picks segments when drawing, so
#: toggling segments in a viewer never decodes the source again.
OVERLAY_OPTIONS = LabelMapOptions()


class OverlayRoute:
    """The overlay route, holding the label map cache it shares with other routes."""

    def __init__(self, cache: LabelMapCache) -> None:
        self.cache = cache

    def overlay(self, request: Request) -> Answer:
        """An RGBA PNG of the image's size: the segments at that image's plane."""
        source_id, image_id = request.groups
        style = OverlayStyle.from_query(request.query)
        try:
            file_uuid = str(store.instance_summary(source_id).get("FileUuid", ""))
        except NotFoundError:
            self.cache.forget(source_id)
            raise
        image = store.instance_summary(image_id, "image")
        cached = self.cache.get(source_id, OVERLAY_OPTIONS, file_uuid)
        sop_instance_uid = str(image.get("MainDicomTags", {}).get("SOPInstanceUID", ""))
        plane = cached.planes.get(sop_instance_uid)
        if plane is None and image.get("ParentSeries") == cached.source.series_id:
            # The series has grown since the label map was cached: load it again.
            self.cache.forget(source_id)
            cached = self.cache.get(source_id, OVERLAY_OPTIONS, file_uuid)
            plane = cached.planes.get(sop_instance_uid)
        if image.get("ParentSeries") != cached.source.series_id or plane is None:
            raise NotFoundError(
                "Image not in the referenced series",
                f"image {image_id} is not an image of the series that {source_id} references",
            )
        return Answer(
            overlay_png(cached.source.labelmap, plane, style),
            "image/png",
            {"Cache-Control": "no-cache"},
        )

    def register(self) -> None:
        """Register the route."""
        register_route(rf"{INSTANCE_ROUTE}/overlay/([^/]+)\.png", ("GET",), self.overlay)
