"""Entry points by kind: describe or convert any supported source."""

from __future__ import annotations

from collections.abc import Sequence
from io import BytesIO
from typing import Any

import numpy.typing as npt
from pydicom import dcmread
from pydicom.dataset import Dataset
from pydicom.errors import InvalidDicomError

from .dicom.description import SourceDescription
from .dicom.image_volume import image_volume
from .dicom.malformed import as_broken_file
from .dicom.sop_classes import Kind, kind_of
from .errors import BrokenFileError, LimitExceededError
from .formats.npy import to_npy
from .geometry import geometry_from_images
from .labelmap import LabelMap
from .options import LabelMapOptions
from .rtstruct import describe_rtstruct, rtstruct_to_labelmap
from .seg import describe_seg, seg_to_labelmap
from .settings import Settings
from .statistics import SegmentStatistics, segment_statistics


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
    data: bytes,
    images: Sequence[Dataset] | None,
    options: LabelMapOptions,
    settings: Settings,
) -> LabelMap:
    """:func:`to_labelmap` of a source given as its Part-10 bytes (what a worker receives:
    bytes travel to another process more cheaply than a parsed dataset)."""
    return to_labelmap(dcmread(BytesIO(data), force=True), images, options, settings)


def statistics_of_labelmap(
    labelmap: LabelMap, image_files: Sequence[bytes] | None
) -> list[SegmentStatistics]:
    """Segment statistics of a label map, with the ``Image`` figures of ``image_files`` (the
    Part-10 files of the referenced series, whose grid the label map is on: values after the
    modality rescale, HU for CT), or without them (None: the native grid). Files travel
    unparsed (bytes pickle at memory speed, datasets element by element); 400 where an image
    file is unreadable."""
    images = None if image_files is None else [_read_image(file) for file in image_files]
    image = None if images is None else image_volume(images, labelmap.geometry)
    return segment_statistics(labelmap, image=image)


@as_broken_file
def image_volume_of_files(image_files: Sequence[bytes]) -> npt.NDArray[Any]:
    """(slices, rows, columns) values of an image series given as its Part-10 files, on the
    series' own grid (the source grid of a label map on it), after the modality rescale:
    int16 HU for CT (see :func:`image_volume`). 400 where a file is unreadable, 422 where the
    images make no grid."""
    images = [_read_image(file) for file in image_files]
    geometry, _ = geometry_from_images(images)
    return image_volume(images, geometry)


def image_volume_npy_of_files(image_files: Sequence[bytes]) -> bytes:
    """:func:`image_volume_of_files` as .npy bytes, made where the volume is (a worker): bytes
    travel back at memory speed and the caller holds no second copy while encoding."""
    return to_npy(image_volume_of_files(image_files))


def _read_image(data: bytes) -> Dataset:
    try:
        return dcmread(BytesIO(data), force=True)
    except (InvalidDicomError, ValueError, EOFError, OSError) as error:
        raise BrokenFileError("Unreadable DICOM file", f"referenced image: {error}") from error
