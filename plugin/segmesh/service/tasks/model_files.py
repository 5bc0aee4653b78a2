"""One segment's model as a file to download (``GET /instances/{id}/segmesh/stl``), and a
stored model's STL: nothing is stored."""

from __future__ import annotations

from pydicom.dataset import Dataset

from ...dicom.sop_classes import ENCAPSULATED_STL_STORAGE
from ...errors import BadRequestError, UnprocessableError, UnsupportedError
from ...formats import MeshFormat
from ...labelmap import Segment
from ...mesh import MeshOptions, segment_crops
from ...models import stl_document
from ...options import LabelMapOptions
from ...work import MeshFile, ReportedFile
from .. import store
from .context import TaskContext
from .labelmaps import load_labelmap


def segment_model_file(
    instance_id: str,
    number: int | None,
    options: MeshOptions,
    mesh_format: MeshFormat,
    context: TaskContext,
) -> tuple[Segment, ReportedFile]:
    """The model of segment ``number`` of a source (its only segment where None) and its
    printability report, meshed in a
    worker from the whole label map, as every other route asks for it (cached once, not per
    segment); 400 where None names no single segment, 422 where the segment is empty."""
    loaded = load_labelmap(instance_id, LabelMapOptions(), context)
    if number is None:
        if len(loaded.labelmap.segments) != 1:
            raise BadRequestError(
                "Missing parameter segment", "the source holds several segments: give one"
            )
        number = loaded.labelmap.segments[0].number
    segment, crop = next(segment_crops(loaded.labelmap, (number,)))
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
    return segment, data


def stored_model(instance_id: str, context: TaskContext) -> tuple[Dataset, bytes]:
    """A stored model's dataset and its STL document; 415 where it is no Encapsulated STL."""
    dataset = store.read_instance(context.host, instance_id)
    if str(dataset.get("SOPClassUID", "")) != ENCAPSULATED_STL_STORAGE:
        raise UnsupportedError(
            "Not an Encapsulated STL instance", f"SOP Class UID {dataset.get('SOPClassUID')}"
        )
    return dataset, stl_document(dataset)
