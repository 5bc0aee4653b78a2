"""Entry points by kind: describe or convert any supported source."""

from __future__ import annotations

from collections.abc import Sequence

from pydicom.dataset import Dataset

from .dicom.description import SourceDescription
from .dicom.malformed import as_broken_file
from .dicom.sop_classes import Kind, kind_of
from .errors import LimitExceededError
from .labelmap import LabelMap
from .options import LabelMapOptions
from .rtstruct import describe_rtstruct, rtstruct_to_labelmap
from .seg import describe_seg, seg_to_labelmap
from .settings import Settings


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
