"""Models of a source, stored: what a route, a job or an automatic run asks for.

Each task meshes the segments of a label map (a SEG or RT-STRUCT, a thresholded image series,
a posted NIfTI), stores one Encapsulated STL instance per segment (or one merged) in a new
series of the source's study, and answers the JSON of the storing routes."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import orthanc
from pydicom.dataset import Dataset
from pydicom.uid import generate_uid

from ...dicom.part10 import part10
from ...dicom.tags import apply_tags
from ...errors import BadRequestError, LimitExceededError, UnprocessableError
from ...formats import nifti_labelmap
from ...labelmap import LabelMap, Segment
from ...mesh import Mesh, MeshOptions, ThresholdOptions, merge, segment_meshes, threshold_labelmap
from ...models import ModelRequest, ModelSource, encapsulated_stl, model_label
from ...options import LabelMapOptions
from ...settings import Settings
from .. import store
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
    settings: Settings,
    extra_parameters: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Mesh the segments, store one instance per segment (or one merged), answer the ids;
    413 before anything is stored where a model would exceed MaxTriangles."""
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
    triangles = (
        [sum(mesh.triangle_count for _, mesh in built)]
        if options.merge
        else [mesh.triangle_count for _, mesh in built]
    )
    if max(triangles) > settings.max_triangles:
        raise LimitExceededError(
            "Model too large",
            f"{max(triangles)} triangles, above MaxTriangles {settings.max_triangles}",
        )
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


def store_source_models(
    instance_id: str, options: StoreOptions, settings: Settings
) -> dict[str, Any]:
    """Models of the segments of a stored SEG or RT-STRUCT."""
    loaded = load_labelmap(instance_id, LabelMapOptions(segments=options.segments), settings)
    kind = loaded.description.kind.value
    description = f"Models of {loaded.dataset.get('SeriesDescription') or kind}"
    answer = store_models(
        loaded.labelmap, _source_of(loaded.dataset, loaded.labelmap), options, description, settings
    )
    # Segments the label map could not hold (say, RT-STRUCT ROIs of points) are reported too.
    answer["Skipped"] = [
        {"Segment": skipped.number, "Label": skipped.label, "Reason": skipped.reason}
        for skipped in loaded.description.skipped
        if options.segments is None or skipped.number in options.segments
    ] + answer["Skipped"]
    return answer


def store_series_model(
    series_id: str, threshold: ThresholdOptions, options: StoreOptions, settings: Settings
) -> dict[str, Any]:
    """The model of a thresholded image series (HU for CT)."""
    images = store.read_series(series_id)
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
    return store_models(labelmap, source, options, description, settings, threshold.to_json())


def store_nifti_models(
    study_id: str,
    nifti: bytes,
    labels: Mapping[int, str],
    frame_of_reference_uid: str,
    options: StoreOptions,
    settings: Settings,
) -> dict[str, Any]:
    """Models of the labels of a NIfTI label map, in the study ``study_id``.

    They take ``frame_of_reference_uid`` where given, else the study's where its series share
    one, else a new one derived from the file.
    """
    study, frames_of_reference = _study_dataset(study_id)
    digest = hashlib.sha256(nifti).hexdigest()
    frame_of_reference_uid = frame_of_reference_uid or (
        frames_of_reference[0]
        if len(frames_of_reference) == 1
        else generate_uid(entropy_srcs=["segmesh-nifti", digest])
    )
    labelmap = nifti_labelmap(nifti, labels, frame_of_reference_uid, settings)
    source = ModelSource(study, frame_of_reference_uid, f"nifti:{digest}:{study_id}")
    return store_models(labelmap, source, options, "Models of a NIfTI label map", settings)
