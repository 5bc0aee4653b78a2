"""Routes of a threshold dialog on an image series: ``GET /series/{id}/segmesh/histogram``
(its values after the modality rescale) and the preview answered by ``GET
/series/{id}/segmesh/stl`` (registered with its POST in :mod:`.models`)."""

from __future__ import annotations

import json
from collections.abc import Callable

from ...formats import MeshFormat, export_mesh
from ...mesh.printability import Printability
from ...requests.mesh_fields import mesh_options, threshold_options_of_query
from ...requests.queries import histogram_bins
from ...service.tasks.context import TaskContext
from ...service.tasks.thresholds import series_histogram, threshold_preview
from ..http import SERIES_ROUTE, Answer, Request, register_route

#: The header of a model download carrying its printability report (compact JSON).
PRINTABILITY_HEADER = "X-Segmesh-Printability"


def printability_header(report: Printability) -> str:
    """``report`` as the value of :data:`PRINTABILITY_HEADER`: JSON on one line."""
    return json.dumps(report.to_json(), separators=(",", ":"))


def preview_route(context: TaskContext) -> Callable[[Request], Answer]:
    """``?threshold=&upper=&keep-largest=&step=|voxelsize=&smoothing=&iterations=&decimate=
    &format=stl|glb|...``: the mesh file, nothing stored, its printability report in
    :data:`PRINTABILITY_HEADER`."""

    def preview(request: Request) -> Answer:
        query = request.query
        mesh_format = MeshFormat.parse(query.get("format", "stl"))
        threshold = threshold_options_of_query(query)
        options = mesh_options(query)
        preview = threshold_preview(request.groups[0], threshold, options, context)
        return Answer(
            export_mesh(preview.mesh, mesh_format),
            mesh_format.mime_type,
            {
                "Content-Disposition": f'attachment; filename="preview.{mesh_format.value}"',
                "X-Segmesh-Triangles": str(preview.mesh.triangle_count),
                PRINTABILITY_HEADER: printability_header(preview.printability),
            },
        )

    return preview


def register(context: TaskContext) -> None:
    """Register the histogram route, bound to ``context``."""

    def histogram(request: Request) -> Answer:
        bins = histogram_bins(request.query.get("bins"))
        return Answer.json(series_histogram(request.groups[0], bins, context).to_json())

    register_route(f"{SERIES_ROUTE}/histogram", ("GET",), histogram)
