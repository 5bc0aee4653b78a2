"""Entry points by kind: describe or convert any supported source."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from io import BytesIO
from typing import Any, BinaryIO

import numpy.typing as npt
from pydicom import dcmread
from pydicom.dataset import Dataset
from pydicom.errors import InvalidDicomError
from scipy import ndimage

from .cross_sections import Voxel
from .dicom.description import SourceDescription
from .dicom.image_volume import image_cross_sections, image_volume
from .dicom.malformed import as_broken_file
from .dicom.part10 import header_only
from .dicom.sop_classes import Kind, kind_of
from .errors import BrokenFileError, LimitExceededError, NotFoundError
from .formats.npy import to_npy, write_npy
from .geometry import Plane, VolumeGeometry, geometry_from_images, image_planes
from .labelmap import LabelMap, LayerBoxes, Segment
from .mesh import (
    Mesh,
    MeshOptions,
    SegmentCrop,
    ThresholdOptions,
    threshold_labelmap,
)
from .models import ModelSource
from .options import LabelMapOptions
from .packed_files import PackedArray
from .rtstruct import describe_rtstruct, rtstruct_to_labelmap
from .seg import describe_seg, seg_to_labelmap
from .settings import Settings
from .statistics import ImageFigures, SegmentStatistics, image_figures, segment_statistics
from .statistics.histogram import ValueHistogram, value_histogram
from .stored_files import file_streams


@as_broken_file
def describe(dataset: Dataset) -> SourceDescription:
    """Segments, frame of reference and referenced series of a SEG or RT-STRUCT."""
    if kind_of(dataset) is Kind.SEG:
        return describe_seg(dataset)
    return describe_rtstruct(dataset)


@as_broken_file
def to_labelmap(
    dataset: Dataset,
    images: Sequence[Dataset] | None,
    options: LabelMapOptions,
    settings: Settings,
) -> LabelMap:
    """The label map of a SEG or RT-STRUCT.

    ``images`` is the referenced image series (any order) for the source grid, or None for the
    native grid. Raises 400 for unknown segment numbers, 413 above ``settings.max_voxels``,
    422 where the source cannot be placed on the grid.
    """
    description = describe(dataset)
    held = len(description.segments) + len(description.skipped)
    if held > settings.max_segments:
        raise LimitExceededError(
            "Too many segments",
            f"the source holds {held}, above MaxSegments {settings.max_segments}",
        )
    if kind_of(dataset) is Kind.SEG:
        return seg_to_labelmap(dataset, images, options, settings)
    return rtstruct_to_labelmap(dataset, images, options, settings)


@as_broken_file
def labelmap_of_file(
    path: str,
    images: Sequence[Dataset] | None,
    options: LabelMapOptions,
    settings: Settings,
) -> LabelMap:
    """:func:`to_labelmap` of a source given as the path of its Part-10 file (what a worker
    receives: read once from the page cache, never copied through a pipe or into a buffer
    first). 404 where the file is gone: read in place in Orthanc's storage area, it goes with
    its instance."""
    try:
        dataset = dcmread(path, force=True)
    except FileNotFoundError as error:
        raise NotFoundError("Unknown instance", "its file left the storage area") from error
    return to_labelmap(dataset, images, options, settings)


@dataclass(frozen=True)
class MeasuredLabelMap:
    """A label map's segment statistics without the image figures, as a worker sends them
    back, with the boxes of its layers (:meth:`LabelMap.boxes_found`) for the label map it
    was sent from to keep."""

    statistics: list[SegmentStatistics]
    boxes: LayerBoxes


def measures_of_labelmap(
    layers: PackedArray, geometry: VolumeGeometry, segments: tuple[Segment, ...], boxes: LayerBoxes
) -> MeasuredLabelMap:
    """:func:`segment_statistics` of a label map (its ``layers`` mapped from disk, no copy)
    without the image, on the ``boxes`` already found of its layers (the others found here)."""
    labelmap = LabelMap(layers.mapped(), geometry, segments)
    labelmap.adopt_boxes(boxes)
    statistics = segment_statistics(labelmap)
    return MeasuredLabelMap(statistics, labelmap.boxes_found())


def image_figures_of_files(
    layers: PackedArray,
    geometry: VolumeGeometry,
    segments: tuple[Segment, ...],
    boxes: LayerBoxes,
    image_files: Sequence[bytes],
) -> list[ImageFigures | None]:
    """:func:`image_figures` of each segment of a label map (``layers`` mapped from disk, on
    the ``boxes`` already found of its layers) in the image of ``image_files`` (the Part-10
    files of the referenced series, whose grid the label map is on: values after the modality
    rescale, HU for CT). 400 where an image file is unreadable."""
    labelmap = LabelMap(layers.mapped(), geometry, segments)
    labelmap.adopt_boxes(boxes)
    image = image_volume([read_image(file) for file in image_files], geometry)
    return image_figures(labelmap, segments, image)


@dataclass(frozen=True)
class DecodedLabelMap:
    """A label map decoded in a worker, as it comes back: its layers on disk, its grid and
    segments, and the plane of each referenced image (SOPInstanceUID: first frame's plane)."""

    layers: PackedArray
    geometry: VolumeGeometry
    segments: tuple[Segment, ...]
    planes: dict[str, Plane]

    def read(self) -> LabelMap:
        """The label map, its layers read into memory."""
        return LabelMap(self.layers.read(), self.geometry, self.segments)


@as_broken_file
def labelmap_of_stored_files(
    source_path: str,
    image_files: Sequence[bytes] | None,
    options: LabelMapOptions,
    settings: Settings,
    layers_path: str,
) -> DecodedLabelMap:
    """:func:`labelmap_of_file` of the file at ``source_path`` on the grid of ``image_files``
    (the referenced series' Part-10 files, whose headers only are kept), or on the native grid
    (None); the layers written to ``layers_path`` (see :mod:`segmesh.packed_files`). 400 where
    an image file is unreadable."""
    headers = None if image_files is None else read_headers(image_files)
    labelmap = labelmap_of_file(source_path, headers, options, settings)
    planes = {str(image.SOPInstanceUID): image_planes(image)[0] for image in headers or []}
    layers = PackedArray.write(labelmap.layers, layers_path)
    return DecodedLabelMap(layers, labelmap.geometry, labelmap.segments, planes)


@as_broken_file
def image_volume_of_files(image_files: Sequence[bytes]) -> npt.NDArray[Any]:
    """(slices, rows, columns) values of an image series given as its Part-10 files, on the
    series' own grid (the source grid of a label map on it), after the modality rescale:
    int16 HU for CT (see :func:`image_volume`). 400 where a file is unreadable, 422 where the
    images make no grid."""
    images = [read_image(file) for file in image_files]
    geometry, _ = geometry_from_images(images)
    return image_volume(images, geometry)


def image_volume_npy_of_files(image_files: Sequence[bytes], path: str) -> None:
    """:func:`image_volume_of_files` written to ``path`` as a .npy file, made where the volume
    is (a worker): the caller reads it back as the answer, with no pickled copy."""
    write_npy(image_volume_of_files(image_files), path)


@as_broken_file
def image_cross_sections_npy_of_files(image_files: Sequence[bytes], voxel: Voxel | None) -> bytes:
    """:func:`image_cross_sections` of an image series given as its Part-10 files, on its own
    grid, as .npy bytes (a few hundred kilobytes: small enough to pickle back)."""
    images = [read_image(file) for file in image_files]
    geometry, _ = geometry_from_images(images)
    return to_npy(image_cross_sections(images, geometry, voxel))


def histogram_of_files(files: Sequence[bytes], bins: int, settings: Settings) -> ValueHistogram:
    """:func:`value_histogram` of a series given as its Part-10 files (a worker call; see
    :func:`threshold_series_of_files` for how they are read)."""
    headers = read_headers(files)
    return value_histogram(headers, bins, settings, lambda n: read_image(files[n]))


@dataclass(frozen=True, eq=False)
class ThresholdedSeries:
    """A thresholded series, as a worker sends it back: its ``geometry``, the ``crop`` of its
    segment (None where no voxel is within the bounds), the ``source`` its models cite and its
    SeriesDescription."""

    geometry: VolumeGeometry
    crop: SegmentCrop | None
    source: ModelSource
    series_description: str


def threshold_series_of_files(
    files: Sequence[bytes], threshold: ThresholdOptions, settings: Settings
) -> ThresholdedSeries:
    """A series given as its Part-10 files, thresholded (a worker call).

    Headers first, then each file parsed with its pixels only while its slices are decoded:
    with ``files`` fetched as they are read (:class:`~segmesh.stored_files.StoredFiles`) the
    worker holds the boolean mask and a few images at a time, at the cost of fetching each
    file twice. The crop is a view of the mask's box, not a copy."""
    headers = read_headers(files)
    labelmap = threshold_labelmap(headers, threshold, settings, lambda n: read_image(files[n]))
    layer = labelmap.layers[0]
    boxes = ndimage.find_objects(layer)
    box = boxes[0] if boxes else None
    crop = None
    if box is not None:
        start = (int(box[0].start), int(box[1].start), int(box[2].start))
        crop = SegmentCrop(labelmap.segments[0], layer[box].view(bool), start)
    source = ModelSource(
        study=headers[0],
        frame_of_reference_uid=labelmap.geometry.frame_of_reference_uid,
        key=str(headers[0].SeriesInstanceUID),
        instances=tuple(
            (str(ds.SeriesInstanceUID), str(ds.SOPClassUID), str(ds.SOPInstanceUID))
            for ds in headers
        ),
    )
    description = str(headers[0].get("SeriesDescription", "") or "")
    return ThresholdedSeries(labelmap.geometry, crop, source, description)


def threshold_mesh_of_files(
    files: Sequence[bytes], threshold: ThresholdOptions, options: MeshOptions, settings: Settings
) -> Mesh | None:
    """The finished mesh of a thresholded series (a preview: nothing stored); None where no
    voxel is within the bounds. 413 above MaxTriangles."""
    series = threshold_series_of_files(files, threshold, settings)
    mesh = None if series.crop is None else series.crop.mesh(series.geometry, options)
    if mesh is not None and mesh.triangle_count > settings.max_triangles:
        raise LimitExceededError(
            "Model too large",
            f"{mesh.triangle_count} triangles, above MaxTriangles {settings.max_triangles}",
        )
    return mesh


def read_headers(files: Sequence[bytes]) -> list[Dataset]:
    """The attributes before the pixel data of each file (:func:`header_only`), read only as
    far as that where the file is on disk (:func:`file_streams`)."""
    return [header_only(read_image(stream, True)) for stream in file_streams(files)]


def read_image(data: bytes | BinaryIO, stop_before_pixels: bool = False) -> Dataset:
    """A referenced image's Part-10 file parsed; 400 where it is unreadable."""
    stream = BytesIO(data) if isinstance(data, bytes) else data
    try:
        return dcmread(stream, stop_before_pixels=stop_before_pixels, force=True)
    except (InvalidDicomError, ValueError, EOFError, OSError) as error:
        raise BrokenFileError("Unreadable DICOM file", f"referenced image: {error}") from error
