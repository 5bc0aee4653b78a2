"""Routes of a threshold dialog on an image series: ``GET /series/{id}/segmesh/histogram``
(its values after the modality rescale) and the preview answered by ``GET
/series/{id}/segmesh/stl`` (registered with its POST in :mod:`.models`)."""

from __future__ import annotations

import json
from collections.abc import Callable

from ...formats import Appearance, MeshFormat, export_mesh, material_file
from ...mesh.printability import Printability
from ...mesh.threshold import THRESHOLD_COLOR
from ...requests.mesh_fields import preview_mesh_options, threshold_options_of_query
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
    &format=stl|glb|3mf|...`` and the preparation's query forms: the mesh file, nothing
    stored, its printability report in :data:`PRINTABILITY_HEADER`; named by the threshold's
    label in the threshold's colour where the format carries them (``format=mtl``: the OBJ's
    MTL, with no mesh made)."""

    def preview(request: Request) -> Answer:
        query = request.query
        mesh_format = MeshFormat.parse(query.get("format", "stl"))
        threshold = threshold_options_of_query(query)
        options = preview_mesh_options(query)
        appearance = Appearance(threshold.label, THRESHOLD_COLOR, "preview")
        disposition = f'attachment; filename="preview.{mesh_format.value}"'
        if mesh_format is MeshFormat.MTL:
            return Answer(
                material_file(appearance),
                mesh_format.mime_type,
                {"Content-Disposition": disposition},
            )
        preview = threshold_preview(request.groups[0], threshold, options, context)
        return Answer(
            export_mesh(preview.mesh, mesh_format, appearance),
            mesh_format.mime_type,
            {
                "Content-Disposition": disposition,
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
