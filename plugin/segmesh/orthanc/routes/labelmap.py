"""``GET /instances/{id}/segmesh/labelmap``: the label map of a SEG or RT-STRUCT as a file."""

from __future__ import annotations

from ...requests.labelmap_query import labelmap_request
from ...service.tasks.context import TaskContext
from ...service.tasks.labelmap_files import labelmap_file
from ..http import (
    INSTANCE_ROUTE,
    WARNINGS_HEADER,
    Answer,
    Request,
    json_header_value,
    register_route,
)

#: Where the label map came from: ``cache``, ``attachment`` (the source's label-map
#: attachment) or ``decoded`` (this request decoded the source).
ORIGIN_HEADER = "X-SegMesh-LabelMap-Origin"


class LabelMapRoute:
    """The route, with the context its work runs in."""

    def __init__(self, context: TaskContext) -> None:
        self.context = context

    def labelmap(self, request: Request) -> Answer:
        """Convert one instance and answer the file, its warnings in ``X-SegMesh-Warnings``."""
        instance_id = request.groups[0]
        parsed = labelmap_request(request.query)
        loaded, exported = labelmap_file(
            instance_id, parsed.options, parsed.file_format, parsed.include_image, self.context
        )
        filename = f"{instance_id}{exported.extension}"
        return Answer(
            exported.body,
            exported.mime_type,
            {
                "Content-Disposition": f'attachment; filename="{filename}"',
                WARNINGS_HEADER: json_header_value(loaded.labelmap.warnings()),
                ORIGIN_HEADER: loaded.origin.value,
            },
        )

    def register(self) -> None:
        """Register the route."""
        register_route(
            f"{INSTANCE_ROUTE}/labelmap", ("GET",), self.labelmap, audit="segmesh-labelmap"
        )
