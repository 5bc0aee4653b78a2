"""A segment's model as a file to download (``GET /instances/{id}/segmesh/stl``), several as one
3MF, and a stored model's STL: nothing is stored."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path

from pydicom.dataset import Dataset

from ...dicom.sop_classes import ENCAPSULATED_STL_STORAGE
from ...errors import BadRequestError, UnprocessableError, UnsupportedError
from ...formats import Appearance, MeshFormat, material_file
from ...labelmap import Segment
from ...mesh import MeshOptions, SegmentCrop, segment_boxes, segment_crops
from ...models import stl_document
from ...options import LabelMapOptions
from ...work import MeshFile, MeshPart, PackThreeMF, ReportedFile
from .. import store
from .context import TaskContext
from .labelmaps import load_labelmap


def segment_appearance(segment: Segment) -> Appearance:
    """How a segment's files name and colour it: its label and colour, saved as
    ``segment-{number}.{format}`` (the name an OBJ's ``mtllib`` gives its MTL)."""
    return Appearance(segment.label, segment.color, f"segment-{segment.number}")


def segment_model_file(
    instance_id: str,
    number: int | None,
    options: MeshOptions,
    mesh_format: MeshFormat,
    context: TaskContext,
) -> tuple[Segment, ReportedFile]:
    """The model of segment ``number`` of a source (its only segment where None) and its
    printability report, meshed in a worker from the whole label map, as every other route
    asks for it (cached once, not per segment); 400 where None names no single segment, 422 where the segment is empty."""
    loaded = load_labelmap(instance_id, LabelMapOptions(), context)
    if number is None:
        if len(loaded.labelmap.segments) != 1:
            raise BadRequestError(
                "Missing parameter segment", "the source holds several segments: give one"
            )
        number = loaded.labelmap.segments[0].number
    segment, crop = next(segment_crops(loaded.labelmap, (number,)))
    appearance = segment_appearance(segment)
    data = None
    if crop is not None and mesh_format is MeshFormat.MTL:
        data = ReportedFile(material_file(appearance), None)
    elif crop is not None:
        with context.metrics.timed("segmesh_mesh_seconds_total"):
            data = context.workers.run(
                MeshFile(
                    crop=crop,
                    geometry=loaded.labelmap.geometry,
                    options=options,
                    mesh_format=mesh_format,
                    appearance=appearance,
                )
            )
    if data is None:
        raise UnprocessableError("Empty segment", f"segment {segment.number} has no voxels")
    return segment, data


def source_models_3mf(
    instance_id: str,
    numbers: Sequence[int] | None,
    options: MeshOptions,
    context: TaskContext,
) -> bytes:
    """The models of segments ``numbers`` of a source (all where None) as one 3MF package, an
    object per segment named by its label in its colour; empty segments are left out. Each
    part is meshed and formatted by a worker into a temporary file, the package written by
    one worker from those files: this process holds only the package, and each crop only
    until a worker takes it. 400 for numbers the source does not hold, 422 where every asked
    segment is empty."""
    labelmap = load_labelmap(instance_id, LabelMapOptions(), context).labelmap
    boxes = [(segment, box) for segment, box in segment_boxes(labelmap, numbers) if box is not None]
    if not boxes:
        raise UnprocessableError("Nothing to mesh", "every asked segment is empty")
    # One folder for the parts: no file held open per segment (a source may hold hundreds).
    with tempfile.TemporaryDirectory(prefix="segmesh-3mf-") as folder:
        paths = [str(Path(folder, f"{n}.part")) for n in range(len(boxes))]

        def works() -> Iterator[MeshPart]:
            for (segment, box), path in zip(boxes, paths, strict=True):
                crop = SegmentCrop.cut(labelmap, segment, box)
                yield MeshPart(crop=crop, geometry=labelmap.geometry, options=options, path=path)

        with context.metrics.timed("segmesh_mesh_seconds_total"):
            triangles = list(context.workers.imap(works()))
        parts = [
            (segment.label, segment.color, path)
            for (segment, _), path, count in zip(boxes, paths, triangles, strict=True)
            if count is not None
        ]
        if not parts:
            raise UnprocessableError("Nothing to mesh", "no asked segment has a surface")
        package = str(Path(folder, "package.3mf"))
        context.workers.run(PackThreeMF(parts=parts, path=package))
        return Path(package).read_bytes()


def stored_model(instance_id: str, context: TaskContext) -> tuple[Dataset, bytes]:
    """A stored model's dataset and its STL document; 415 where it is no Encapsulated STL."""
    dataset = store.read_instance(context.host, instance_id)
    if str(dataset.get("SOPClassUID", "")) != ENCAPSULATED_STL_STORAGE:
        raise UnsupportedError(
            "Not an Encapsulated STL instance", f"SOP Class UID {dataset.get('SOPClassUID')}"
        )
    return dataset, stl_document(dataset)
