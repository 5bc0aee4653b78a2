"""Routes of 3D models: meshes of SEG, RT-STRUCT, thresholded series and NIfTI label maps,
answered as files or stored as Encapsulated STL instances (the work is in
:mod:`..tasks.models`)."""

from __future__ import annotations

from ...dicom.sop_classes import ENCAPSULATED_STL_STORAGE
from ...errors import BadRequestError, UnprocessableError, UnsupportedError
from ...formats import MeshFormat
from ...mesh import MeshOptions, segment_crops
from ...models import stl_document
from ...options import LabelMapOptions
from ...work import MeshFile
from .. import store
from ..http import (
    INSTANCE_ROUTE,
    SERIES_ROUTE,
    STUDY_ROUTE,
    Answer,
    Request,
    register_route,
)
from ..jobs import JobRunner
from ..tasks.context import TaskContext
from ..tasks.labelmaps import load_labelmap
from ..tasks.storing import INSTANCE_MODELS, NIFTI_MODELS, SERIES_MODEL
from .storing import storing_route
from .thresholds import preview_route


def register(context: TaskContext, runner: JobRunner) -> None:
    """Register the model routes, bound to ``context`` and the job ``runner``."""
    post_instance_stl = storing_route(INSTANCE_MODELS, context, runner)

    def get_instance_stl(request: Request) -> Answer:
        query = request.query
        mesh_format = MeshFormat.parse(query.get("format", "stl"))
        options = MeshOptions.from_values(query)
        segment_text = query.get("segment")
        numbers = None
        if segment_text:
            try:
                numbers = (int(segment_text),)
            except ValueError as error:
                raise BadRequestError("Bad parameter segment", f"{segment_text!r}") from error
        # The whole label map, as every other route asks for it: cached once, not per segment.
        loaded = load_labelmap(request.groups[0], LabelMapOptions(), context)
        if numbers is None:
            if len(loaded.labelmap.segments) != 1:
                raise BadRequestError(
                    "Missing parameter segment", "the source holds several segments: give one"
                )
            numbers = (loaded.labelmap.segments[0].number,)
        segment, crop = next(segment_crops(loaded.labelmap, numbers))
        data = None
        if crop is not None:
            with context.metrics.timed("segmesh_mesh_seconds_total"):
                data = context.workers.run(
                    MeshFile(
                        crop=crop,
                        geometry=loaded.labelmap.geometry,
                        options=options,
                        mesh_format=mesh_format,
                    )
                )
        if data is None:
            raise UnprocessableError("Empty segment", f"segment {segment.number} has no voxels")
        name = f"segment-{segment.number}.{mesh_format.value}"
        return Answer(
            data,
            mesh_format.mime_type,
            {"Content-Disposition": f'attachment; filename="{name}"'},
        )

    def get_model(request: Request) -> Answer:
        dataset = store.read_instance(request.groups[0])
        if str(dataset.get("SOPClassUID", "")) != ENCAPSULATED_STL_STORAGE:
            raise UnsupportedError(
                "Not an Encapsulated STL instance", f"SOP Class UID {dataset.get('SOPClassUID')}"
            )
        return Answer(
            stl_document(dataset),
            "model/stl",
            {"Content-Disposition": f'attachment; filename="{dataset.SOPInstanceUID}.stl"'},
        )

    def instance_stl(request: Request) -> Answer:
        if request.method == "POST":
            return post_instance_stl(request)
        return get_instance_stl(request)

    register_route(f"{INSTANCE_ROUTE}/stl", ("GET", "POST"), instance_stl, audit="segmesh-model")
    register_route(f"{INSTANCE_ROUTE}/model", ("GET",), get_model, audit="segmesh-model")
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
