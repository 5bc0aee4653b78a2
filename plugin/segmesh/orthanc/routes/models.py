"""Routes of 3D models: meshes of SEG, RT-STRUCT, thresholded series and NIfTI label maps,
answered as files or stored as Encapsulated STL instances (the work is in
segmesh.service.tasks.models and model_files)."""

from __future__ import annotations

from ...errors import BadRequestError
from ...formats import MeshFormat
from ...requests.mesh_fields import mesh_options_of_query
from ...requests.queries import segment_number, segment_numbers
from ...requests.storing_kinds import INSTANCE_MODELS, NIFTI_MODELS, SERIES_MODEL
from ...service.jobs import JobRunner
from ...service.tasks.context import TaskContext
from ...service.tasks.model_files import (
    segment_appearance,
    segment_model_file,
    source_models_3mf,
    stored_model,
)
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
        options = mesh_options_of_query(query)
        number = segment_number(query.get("segment"))
        numbers = segment_numbers(query.get("segments"))
        headers: dict[str, str] = {}
        if mesh_format is MeshFormat.THREEMF:
            # One 3MF of the asked segments: every segment where none is given.
            chosen = (number,) if number is not None else numbers
            data = source_models_3mf(request.groups[0], chosen, options, context)
            name = "segments.3mf" if number is None else f"segment-{number}.3mf"
        elif numbers is not None:
            raise BadRequestError("Bad parameter segments", "only with format=3mf: give segment")
        else:
            segment, reported = segment_model_file(
                request.groups[0], number, options, mesh_format, context
            )
            data = reported.data
            name = f"{segment_appearance(segment).stem}.{mesh_format.value}"
            if reported.printability is not None:
                headers[PRINTABILITY_HEADER] = printability_header(reported.printability)
        headers["Content-Disposition"] = f'attachment; filename="{name}"'
        return Answer(data, mesh_format.mime_type, headers)

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
