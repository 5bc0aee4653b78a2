"""Routes of 3D models: meshes of SEG, RT-STRUCT, thresholded series and NIfTI label maps,
answered as files or stored as Encapsulated STL instances (the work is in
:mod:`..tasks.models`)."""

from __future__ import annotations

import base64
import binascii
from typing import Any

from pydicom.uid import UID

from ...dicom.sop_classes import ENCAPSULATED_STL_STORAGE
from ...errors import BadRequestError, UnprocessableError, UnsupportedError
from ...formats import MeshFormat, export_mesh
from ...mesh import MeshOptions, ThresholdOptions, segment_meshes
from ...models import stl_document
from ...options import LabelMapOptions
from .. import store
from ..http import INSTANCE_ROUTE, SERIES_ROUTE, STUDY_ROUTE, Answer, Request, register_route
from ..tasks.context import TaskContext
from ..tasks.labelmaps import load_labelmap
from ..tasks.models import (
    StoreOptions,
    store_nifti_models,
    store_series_model,
    store_source_models,
)


def register(context: TaskContext) -> None:
    """Register the model routes, bound to ``context``."""

    def post_instance_stl(request: Request) -> Answer:
        options = StoreOptions.from_body(request.json_body())
        return Answer.json(store_source_models(request.groups[0], options, context))

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
        loaded = load_labelmap(request.groups[0], LabelMapOptions(segments=numbers), context)
        if numbers is None:
            if len(loaded.labelmap.segments) != 1:
                raise BadRequestError(
                    "Missing parameter segment", "the source holds several segments: give one"
                )
            numbers = (loaded.labelmap.segments[0].number,)
        segment, mesh = next(segment_meshes(loaded.labelmap, numbers, options))
        if mesh is None:
            raise UnprocessableError("Empty segment", f"segment {segment.number} has no voxels")
        name = f"segment-{segment.number}.{mesh_format.value}"
        return Answer(
            export_mesh(mesh, mesh_format),
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

    def post_series_stl(request: Request) -> Answer:
        body = request.json_body()
        threshold = ThresholdOptions.from_body(body)
        options = StoreOptions.from_body({**body, "Segments": None, "Merge": False})
        return Answer.json(store_series_model(request.groups[0], threshold, options, context))

    def post_nifti_stl(request: Request) -> Answer:
        body = request.json_body()
        nifti = _base64(body.get("Nifti"))
        labels = _labels(body.get("Labels", {}))
        options = StoreOptions.from_body({**body, "Segments": sorted(labels) or None})
        frame_of_reference_uid = _uid(body.get("FrameOfReferenceUID"), "FrameOfReferenceUID")
        return Answer.json(
            store_nifti_models(
                request.groups[0], nifti, labels, frame_of_reference_uid, options, context
            )
        )

    def instance_stl(request: Request) -> Answer:
        if request.method == "POST":
            return post_instance_stl(request)
        return get_instance_stl(request)

    register_route(f"{INSTANCE_ROUTE}/stl", ("GET", "POST"), instance_stl)
    register_route(f"{INSTANCE_ROUTE}/model", ("GET",), get_model)
    register_route(f"{SERIES_ROUTE}/stl", ("POST",), post_series_stl)
    register_route(f"{STUDY_ROUTE}/nifti-stl", ("POST",), post_nifti_stl)


def _base64(value: Any) -> bytes:
    if not isinstance(value, str) or not value:
        raise BadRequestError("Missing parameter Nifti", "base64 of a .nii or .nii.gz file")
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError) as error:
        raise BadRequestError("Bad parameter Nifti", f"not base64: {error}") from error


def _uid(value: Any, name: str) -> str:
    """An optional UID of the body: "" where absent, 400 where it is not a valid UID."""
    if value is None or value == "":
        return ""
    if not isinstance(value, str) or not UID(value).is_valid:
        raise BadRequestError(f"Bad parameter {name}", f"{value!r} is not a valid UID")
    return value


def _labels(value: Any) -> dict[int, str]:
    """``{"1": "Liver"}`` (JSON keys are strings) to ``{1: "Liver"}``."""
    if not isinstance(value, dict):
        raise BadRequestError("Bad parameter Labels", "an object of label value to name")
    labels = {}
    for key, name in value.items():
        try:
            number = int(key)
        except ValueError as error:
            raise BadRequestError("Bad parameter Labels", f"{key!r} is not a number") from error
        if number < 1 or not isinstance(name, str):
            raise BadRequestError("Bad parameter Labels", f"{key!r}: a positive value and a name")
        labels[number] = name
    return labels
