"""Routes of 3D models: meshes of SEG, RT-STRUCT, thresholded series and NIfTI label maps,
answered as files or stored as Encapsulated STL instances."""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import orthanc
from pydicom.dataset import Dataset
from pydicom.uid import UID, generate_uid

from ..errors import BadRequestError, UnprocessableError, UnsupportedError
from ..kinds import ENCAPSULATED_STL_STORAGE
from ..labelmap import LabelMap, Segment
from ..mesh import Mesh, MeshOptions, merge, segment_meshes
from ..nifti_input import nifti_labelmap
from ..options import LabelMapOptions
from ..settings import Settings
from ..stl import MeshFormat, export
from ..stl_dicom import (
    ModelRequest,
    ModelSource,
    apply_tags,
    encapsulated_stl,
    model_label,
    part10,
    stl_document,
)
from ..threshold import ThresholdOptions, threshold_labelmap
from . import store
from .http import Answer, Request, register_route
from .labelmaps import load_labelmap


@dataclass(frozen=True)
class StoreOptions:
    """The common body of the storing routes."""

    mesh: MeshOptions
    segments: tuple[int, ...] | None
    merge: bool
    tags: Mapping[str, Any]

    @classmethod
    def from_body(cls, body: Mapping[str, Any]) -> StoreOptions:
        """Parse ``Segments``, ``Smoothing``, ``Iterations``, ``Decimate``, ``Merge``, ``Tags``."""
        segments = body.get("Segments")
        if segments is not None and (
            not isinstance(segments, list)
            or not segments
            or not all(isinstance(n, int) and not isinstance(n, bool) for n in segments)
        ):
            raise BadRequestError("Bad parameter Segments", "a non-empty list of segment numbers")
        merged = body.get("Merge", False)
        if not isinstance(merged, bool):
            raise BadRequestError("Bad parameter Merge", "true or false")
        tags = body.get("Tags", {})
        if not isinstance(tags, dict):
            raise BadRequestError("Bad parameter Tags", "an object of DICOM keywords to values")
        # Validate the overrides before any heavy work.
        apply_tags(Dataset(), tags)
        return cls(
            MeshOptions.from_values(body),
            tuple(segments) if segments is not None else None,
            merged,
            tags,
        )

    def parameters(self) -> dict[str, Any]:
        """What the models depend on (recorded, and part of their UIDs)."""
        return {
            **self.mesh.to_json(),
            "Segments": list(self.segments) if self.segments is not None else None,
            "Merge": self.merge,
        }


def _store_dataset(dataset: Dataset) -> dict[str, Any]:
    answer: dict[str, Any] = json.loads(orthanc.RestApiPost("/instances", part10(dataset)))
    return answer


def _volume_ml(mesh: Mesh) -> float:
    return round(mesh.volume / 1000.0, 3)


def store_models(
    labelmap: LabelMap,
    source: ModelSource,
    options: StoreOptions,
    series_description: str,
    extra_parameters: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Mesh the segments, store one instance per segment (or one merged), answer the ids."""
    parameters = {**options.parameters(), **(extra_parameters or {})}
    request = ModelRequest(source, parameters, series_description, options.tags)
    built: list[tuple[Segment, Mesh]] = []
    skipped: list[dict[str, Any]] = []
    for segment, mesh in segment_meshes(labelmap, options.segments, options.mesh):
        if mesh is None:
            skipped.append({"Segment": segment.number, "Label": segment.label, "Reason": "empty"})
        else:
            built.append((segment, mesh))
    if not built:
        raise UnprocessableError("Nothing to mesh", "every asked segment is empty")
    instances = []
    stored: dict[str, Any] = {}
    if options.merge:
        mesh = merge([mesh for _, mesh in built])
        numbers = [segment.number for segment, _ in built]
        label = model_label([segment.label for segment, _ in built])
        key = "merged:" + ",".join(str(n) for n in numbers)
        dataset = encapsulated_stl(mesh, request, key, label, built[0][0].color, 1)
        stored = _store_dataset(dataset)
        instances.append(_instance_json(stored, numbers, label, mesh))
    else:
        for number, (segment, mesh) in enumerate(built, start=1):
            dataset = encapsulated_stl(
                mesh, request, str(segment.number), segment.label, segment.color, number
            )
            stored = _store_dataset(dataset)
            instances.append(_instance_json(stored, segment.number, segment.label, mesh))
    return {"Series": stored["ParentSeries"], "Instances": instances, "Skipped": skipped}


def _instance_json(
    stored: Mapping[str, Any], segment: int | Sequence[int], label: str, mesh: Mesh
) -> dict[str, Any]:
    return {
        "ID": stored["ID"],
        "Segment": segment,
        "Label": label,
        "Triangles": mesh.triangle_count,
        "VolumeMl": _volume_ml(mesh),
        "Status": stored.get("Status", ""),
    }


def _source_of(dataset: Dataset, labelmap: LabelMap) -> ModelSource:
    sop_instance_uid = str(dataset.SOPInstanceUID)
    return ModelSource(
        study=dataset,
        frame_of_reference_uid=labelmap.geometry.frame_of_reference_uid
        or str(dataset.get("FrameOfReferenceUID", "")),
        key=sop_instance_uid,
        instances=(
            (str(dataset.get("SeriesInstanceUID", "")), str(dataset.SOPClassUID), sop_instance_uid),
        ),
    )


def register(settings: Settings) -> None:
    """Register the model routes, bound to ``settings``."""

    def post_instance_stl(request: Request) -> Answer:
        options = StoreOptions.from_body(request.json_body())
        loaded = load_labelmap(
            request.groups[0], LabelMapOptions(segments=options.segments), settings
        )
        kind = loaded.description.kind.value
        description = f"Models of {loaded.dataset.get('SeriesDescription') or kind}"
        answer = store_models(
            loaded.labelmap, _source_of(loaded.dataset, loaded.labelmap), options, description
        )
        # Segments the label map could not hold (say, RT-STRUCT ROIs of points) are reported too.
        answer["Skipped"] = [
            {"Segment": skipped.number, "Label": skipped.label, "Reason": skipped.reason}
            for skipped in loaded.description.skipped
            if options.segments is None or skipped.number in options.segments
        ] + answer["Skipped"]
        return Answer.json(answer)

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
        loaded = load_labelmap(request.groups[0], LabelMapOptions(segments=numbers), settings)
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
            export(mesh, mesh_format),
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
        images = store.read_series(request.groups[0])
        labelmap = threshold_labelmap(images, threshold, settings)
        source = ModelSource(
            study=images[0],
            frame_of_reference_uid=labelmap.geometry.frame_of_reference_uid,
            key=str(images[0].SeriesInstanceUID),
            instances=tuple(
                (str(ds.SeriesInstanceUID), str(ds.SOPClassUID), str(ds.SOPInstanceUID))
                for ds in images
            ),
        )
        description = f"Model of {images[0].get('SeriesDescription') or 'series'}"
        return Answer.json(
            store_models(labelmap, source, options, description, threshold.to_json())
        )

    def post_nifti_stl(request: Request) -> Answer:
        body = request.json_body()
        data = _base64(body.get("Nifti"))
        study_id = body.get("ParentStudy")
        if not isinstance(study_id, str) or not study_id:
            raise BadRequestError("Missing parameter ParentStudy", "the Orthanc id of a study")
        labels = _labels(body.get("Labels", {}))
        options = StoreOptions.from_body({**body, "Segments": sorted(labels) or None})
        study, frames_of_reference = _study_dataset(study_id)
        digest = hashlib.sha256(data).hexdigest()
        frame_of_reference_uid = _uid(body.get("FrameOfReferenceUID"), "FrameOfReferenceUID") or (
            frames_of_reference[0]
            if len(frames_of_reference) == 1
            else generate_uid(entropy_srcs=["segmesh-nifti", digest])
        )
        labelmap = nifti_labelmap(data, labels, frame_of_reference_uid, settings)
        source = ModelSource(study, frame_of_reference_uid, f"nifti:{digest}:{study_id}")
        return Answer.json(store_models(labelmap, source, options, "Models of a NIfTI label map"))

    def instance_stl(request: Request) -> Answer:
        if request.method == "POST":
            return post_instance_stl(request)
        return get_instance_stl(request)

    register_route(r"/segmesh/instances/([^/]+)/stl", ("GET", "POST"), instance_stl)
    register_route(r"/segmesh/instances/([^/]+)/model", ("GET",), get_model)
    register_route(r"/segmesh/series/([^/]+)/stl", ("POST",), post_series_stl)
    register_route(r"/segmesh/nifti/stl", ("POST",), post_nifti_stl)


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


def _study_dataset(study_id: str) -> tuple[Dataset, list[str]]:
    """One instance of the study (for its patient and study attributes), and the distinct
    FrameOfReferenceUIDs of its series (first instance of each)."""
    first_instances = [
        store.series_instance_ids(series_id)[0] for series_id in store.study_series_ids(study_id)
    ]
    datasets = [store.read_instance(i, stop_before_pixels=True) for i in first_instances]
    frames = sorted(
        {str(ds.FrameOfReferenceUID) for ds in datasets if ds.get("FrameOfReferenceUID")}
    )
    return datasets[0], frames
