"""Routes of 3D models: meshes of SEG, RT-STRUCT, thresholded series and NIfTI label maps,
answered as files or stored as Encapsulated STL instances (the work is in
segmesh.service.tasks.models and model_files)."""

from __future__ import annotations

from ...formats import MeshFormat
from ...requests.mesh_fields import mesh_options
from ...requests.queries import segment_number
from ...requests.storing_kinds import INSTANCE_MODELS, NIFTI_MODELS, SERIES_MODEL
from ...service.jobs import JobRunner
from ...service.tasks.context import TaskContext
from ...service.tasks.model_files import segment_model_file, stored_model
from ...service.tasks.printability import stored_printability
from ..http import (
    INSTANCE_ROUTE,
    SERIES_ROUTE,
    STUDY_ROUTE,
    Answer,
    Request,
    register_route,
)
from .storing import storing_route
from .thresholds import PRINTABILITY_HEADER, preview_route, printability_header


def register(context: TaskContext, runner: JobRunner) -> None:
    """Register the model routes, bound to ``context`` and the job ``runner``."""
    post_instance_stl = storing_route(INSTANCE_MODELS, context, runner)

    def get_instance_stl(request: Request) -> Answer:
        query = request.query
        mesh_format = MeshFormat.parse(query.get("format", "stl"))
        options = mesh_options(query)
        number = segment_number(query.get("segment"))
        segment, reported = segment_model_file(
            request.groups[0], number, options, mesh_format, context
        )
        name = f"segment-{segment.number}.{mesh_format.value}"
        return Answer(
            reported.data,
            mesh_format.mime_type,
            {
                "Content-Disposition": f'attachment; filename="{name}"',
                PRINTABILITY_HEADER: printability_header(reported.printability),
            },
        )

    def get_model(request: Request) -> Answer:
        dataset, document = stored_model(request.groups[0], context)
        return Answer(
            document,
            "model/stl",
            {"Content-Disposition": f'attachment; filename="{dataset.SOPInstanceUID}.stl"'},
        )

    def instance_stl(request: Request) -> Answer:
        if request.method == "POST":
            return post_instance_stl(request)
        return get_instance_stl(request)

    register_route(f"{INSTANCE_ROUTE}/stl", ("GET", "POST"), instance_stl, audit="segmesh-model")
    register_route(f"{INSTANCE_ROUTE}/model", ("GET",), get_model, audit="segmesh-model")

    def get_printability(request: Request) -> Answer:
        return Answer.json(stored_printability(request.groups[0], context))

    register_route(f"{INSTANCE_ROUTE}/printability", ("GET",), get_printability)
    post_series_stl = storing_route(SERIES_MODEL, context, runner)
    get_series_stl = preview_route(context)

    def series_stl(request: Request) -> Answer:
        if request.method == "POST":
            return post_series_stl(request)
        return get_series_stl(request)

    register_route(f"{SERIES_ROUTE}/stl", ("GET", "POST"), series_stl)
    register_route(
        f"{STUDY_ROUTE}/nifti-stl", ("POST",), storing_route(NIFTI_MODELS, context, runner)
    )
