"""DICOM SEG (Segmentation Storage and Label Map Segmentation Storage)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from pydicom.dataset import Dataset
from pydicom.pixels import apply_color_lut

from .attributes import code_to_json, first_item
from .color import RGB, cielab_to_rgb, default_color
from .description import SourceDescription
from .errors import BrokenFileError, UnsupportedError
from .kinds import Kind
from .labelmap import LabelMap, Segment
from .options import LabelMapOptions
from .settings import Settings


def _palette_color(dataset: Dataset, number: int) -> RGB | None:
    """The colour of label ``number`` in a PALETTE COLOR label map, if any."""
    if dataset.get("PhotometricInterpretation") != "PALETTE COLOR":
        return None
    try:
        rgb = apply_color_lut(np.array([number], dtype=np.uint16), dataset)[0]
    except (AttributeError, ValueError, IndexError):
        return None
    # Palette entries may be 16-bit; scale to 8 bits.
    scale = 257 if rgb.max() > 255 else 1
    red, green, blue = (round(float(c) / scale) for c in rgb)
    return red, green, blue


def _segment(dataset: Dataset, item: Dataset) -> Segment:
    number = int(item.SegmentNumber)
    cielab = item.get("RecommendedDisplayCIELabValue")
    color = (
        cielab_to_rgb(cielab)
        if cielab
        else _palette_color(dataset, number) or default_color(number)
    )
    attributes: dict[str, Any] = {
        "Category": code_to_json(first_item(item, "SegmentedPropertyCategoryCodeSequence")),
        "Type": code_to_json(first_item(item, "SegmentedPropertyTypeCodeSequence")),
        "AlgorithmType": str(item.get("SegmentAlgorithmType", "")),
    }
    modifier = first_item(
        first_item(item, "SegmentedPropertyTypeCodeSequence") or Dataset(),
        "SegmentedPropertyTypeModifierCodeSequence",
    )
    if modifier is not None:
        attributes["TypeModifier"] = code_to_json(modifier)
    if "SegmentDescription" in item:
        attributes["Description"] = str(item.SegmentDescription)
    return Segment(number, str(item.get("SegmentLabel", "")), color, attributes=attributes)


def describe_seg(dataset: Dataset) -> SourceDescription:
    """Segments, frame of reference and referenced series of a SEG."""
    items = dataset.get("SegmentSequence")
    if not items:
        raise BrokenFileError("Malformed SEG", "SegmentSequence is missing or empty")
    try:
        segments = tuple(_segment(dataset, item) for item in items)
    except (AttributeError, TypeError, ValueError) as error:
        raise BrokenFileError("Malformed SEG", f"SegmentSequence: {error}") from error
    series_uids = tuple(
        str(item.SeriesInstanceUID)
        for item in dataset.get("ReferencedSeriesSequence", [])
        if "SeriesInstanceUID" in item
    )
    return SourceDescription(
        kind=Kind.SEG,
        sop_class_uid=str(dataset.SOPClassUID),
        frame_of_reference_uid=str(dataset.get("FrameOfReferenceUID", "")),
        referenced_series_uids=series_uids,
        segments=segments,
    )


def seg_to_labelmap(
    dataset: Dataset,
    images: Sequence[Dataset] | None,
    options: LabelMapOptions,
    settings: Settings,
) -> LabelMap:
    """The label map of a SEG; see :func:`segmesh.sources.to_labelmap`."""
    raise UnsupportedError("SEG decoding is not available yet", str(dataset.SOPInstanceUID))
