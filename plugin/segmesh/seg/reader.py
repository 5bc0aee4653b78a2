"""DICOM SEG (Segmentation Storage and Label Map Segmentation Storage)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Any

import numpy as np
import numpy.typing as npt
from pydicom.dataset import Dataset
from pydicom.pixels import apply_color_lut

from ..dicom.attributes import code_to_json, first_item, text_value
from ..dicom.color import RGB, cielab_to_rgb, default_color
from ..dicom.sop_classes import Kind
from ..errors import BrokenFileError, UnprocessableError
from ..geometry import VolumeGeometry, geometry_from_images
from ..labelmap import (
    LabelMap,
    LayerBuilder,
    Segment,
    check_voxel_limit,
    label_dtype,
    select_segments,
)
from ..options import LabelMapOptions
from ..settings import Settings
from ..source_description import SkippedSegment, SourceDescription
from .frames import read_seg_frames
from .grid import Placement, native_geometry, place_frames
from .pixels import Block, FrameReader


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
    property_type = first_item(item, "SegmentedPropertyTypeCodeSequence")
    attributes: dict[str, Any] = {
        "Category": code_to_json(first_item(item, "SegmentedPropertyCategoryCodeSequence")),
        "Type": code_to_json(property_type),
        "AlgorithmType": text_value(item, "SegmentAlgorithmType"),
    }
    modifier = first_item(property_type or Dataset(), "SegmentedPropertyTypeModifierCodeSequence")
    if modifier is not None:
        attributes["TypeModifier"] = code_to_json(modifier)
    if "SegmentDescription" in item:
        attributes["Description"] = text_value(item, "SegmentDescription")
    return Segment(number, text_value(item, "SegmentLabel"), color, attributes=attributes)


def _padding_value(dataset: Dataset) -> int | None:
    """The PixelPaddingValue of a LABELMAP SEG, None where it has none."""
    value = dataset.get("PixelPaddingValue")
    if value is None:
        return None
    try:
        return int(value)
    except (TypeError, ValueError) as error:
        raise BrokenFileError("Malformed SEG", f"PixelPaddingValue: {error}") from error


def _is_background(segment: Segment, labelmap: bool, padding: int | None) -> bool:
    """Whether ``segment`` is the SEG's background rather than a segment someone drew.

    Segment 0 always is (highdicom's LABELMAP background item): value 0 is the label map's
    own background and cannot hold a segment. In a LABELMAP SEG so is the segment whose
    number is ``padding``, the PixelPaddingValue (Supplement 243 marks the background so),
    or one labelled "Background" whatever its number (OHIF writes one). A BINARY or
    FRACTIONAL SEG has no background value to mark: each segment has frames of its own, and
    highdicom sets and reads PixelPaddingValue for LABELMAP only; a segment labelled
    "Background" there is a mask someone drew, so it stays a segment.
    """
    if segment.number == 0:
        return True
    if not labelmap:
        return False
    return segment.number == padding or segment.label.strip().lower() == "background"


def describe_seg(dataset: Dataset) -> SourceDescription:
    """Segments, frame of reference and referenced series of a SEG; its background segments
    (see :func:`_is_background`) are listed apart, under ``skipped``."""
    items = dataset.get("SegmentSequence")
    if not items:
        raise BrokenFileError("Malformed SEG", "SegmentSequence is missing or empty")
    try:
        described = [_segment(dataset, item) for item in items]
    except (AttributeError, TypeError, ValueError) as error:
        raise BrokenFileError("Malformed SEG", f"SegmentSequence: {error}") from error
    labelmap = str(dataset.get("SegmentationType", "")) == "LABELMAP"
    padding = _padding_value(dataset) if labelmap else None
    # The background holds no voxels to draw or mesh: no route offers it as a segment.
    segments = tuple(s for s in described if not _is_background(s, labelmap, padding))
    background = tuple(
        SkippedSegment(s.number, s.label, "background")
        for s in described
        if _is_background(s, labelmap, padding)
    )
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
        skipped=background,
    )


def _selected_segments(
    description: SourceDescription, options: LabelMapOptions
) -> tuple[Segment, ...]:
    """The segments to convert, by number; 400 for numbers the SEG does not hold."""
    return tuple(select_segments(description.segments, options.segments, "the SEG holds segments"))


def _fractional_threshold(dataset: Dataset, options: LabelMapOptions) -> float | None:
    """The smallest stored value inside a segment of a FRACTIONAL SEG, None for BINARY."""
    if str(dataset.get("SegmentationType", "")) != "FRACTIONAL":
        return None
    maximum = int(dataset.get("MaximumFractionalValue", 255) or 255)
    return options.threshold * maximum


def _labelmap_from_values(
    reader: FrameReader,
    placement: Placement,
    geometry: VolumeGeometry,
    segments: tuple[Segment, ...],
    dtype: np.dtype[Any],
) -> LabelMap:
    """One layer from a LABELMAP SEG, whose pixels are segment numbers: every value but those
    of ``segments`` becomes 0, the background's (PixelPaddingValue, or the value of a segment
    labelled "Background") among them, since :func:`describe_seg` never offers it.

    Frames on distinct slices (a LABELMAP SEG has one per slice) are written whole into their
    place: copied where every value below the frame's maximum is wanted, else looked up in one
    table of the wanted numbers. Frames sharing a slice are merged patch by patch instead."""
    if reader.bits_allocated == 1:
        raise BrokenFileError("Malformed SEG", "a LABELMAP SEG needs BitsAllocated 8 or 16, not 1")
    numbers = np.arange(1 << reader.bits_allocated)
    wanted = np.zeros(numbers.size, dtype=np.bool_)
    wanted[[segment.number for segment in segments if segment.number < wanted.size]] = True
    layer = np.zeros(geometry.shape, dtype=dtype)
    if np.unique(placement.k).size == placement.k.size:
        table = np.where(wanted, numbers, 0).astype(dtype)
        # Frames whose values are all below the first unwanted number need no look-up.
        unwanted = np.flatnonzero(~wanted[1:])
        copied_below = int(unwanted[0]) + 1 if unwanted.size else wanted.size
        for index, frame in reader.whole_frames():
            rows, columns = frame.shape
            row, column = int(placement.row[index]), int(placement.column[index])
            box = layer[int(placement.k[index]), row : row + rows, column : column + columns]
            if int(frame.max()) < copied_below:
                np.copyto(box, frame, casting="unsafe")
            else:
                box[...] = table[frame]
    else:
        for index, patch in reader.patches(range(reader.frame_count)):
            if patch is None:
                continue
            rows, columns = patch.values.shape
            k, row, column = placement.origin(index, patch)
            box = layer[k, row : row + rows, column : column + columns]
            np.copyto(box, patch.values, where=wanted[patch.values], casting="unsafe")
    placed = tuple(replace(segment, layer=0) for segment in segments)
    return LabelMap(layer[np.newaxis], geometry, placed)


def _add_block(builder: LayerBuilder, segment: Segment, block: Block, placement: Placement) -> bool:
    """Place a BINARY segment's frames read as one ``block`` where they lie on distinct slices
    at the same row and column of the grid (a SEG's frames usually do); False, placing
    nothing, where they do not."""
    k = placement.k[block.frames]
    rows = placement.row[block.frames]
    columns = placement.column[block.frames]
    if np.unique(k).size != k.size or np.ptp(rows) or np.ptp(columns):
        return False
    row, column = int(rows[0]) + block.row, int(columns[0]) + block.column
    builder.add_block(segment, k, row, column, block.values)
    return True


def seg_to_labelmap(
    dataset: Dataset,
    images: Sequence[Dataset] | None,
    options: LabelMapOptions,
    settings: Settings,
    description: SourceDescription | None = None,
) -> LabelMap:
    """The label map of a SEG; see :func:`segmesh.sources.to_labelmap`. ``description``:
    its :func:`describe_seg` where the caller has it (0.02 s for 100 segments)."""
    description = description or describe_seg(dataset)
    segments = _selected_segments(description, options)
    frame_of_reference_uid = description.frame_of_reference_uid
    if not frame_of_reference_uid:
        raise UnprocessableError(
            "No frame of reference",
            "the SEG has no FrameOfReferenceUID (a SEG on a projection image such as a "
            "radiograph cannot be placed in 3-D)",
        )
    frames = read_seg_frames(dataset)
    if images:
        geometry = geometry_from_images(images)[0]
        if geometry.frame_of_reference_uid != frame_of_reference_uid:
            raise UnprocessableError(
                "Different frames of reference",
                f"the SEG is in {frame_of_reference_uid}, its referenced images in "
                f"{geometry.frame_of_reference_uid}",
            )
    else:
        geometry = native_geometry(frames, frame_of_reference_uid)
    check_voxel_limit(geometry.shape, settings.max_voxels)
    placement = place_frames(frames, geometry)
    numbers = [segment.number for segment in segments]
    dtype = label_dtype(numbers)
    reader = FrameReader(dataset, frames.count)
    if str(dataset.get("SegmentationType", "")) == "LABELMAP":
        return _labelmap_from_values(reader, placement, geometry, segments, dtype)
    builder = LayerBuilder(geometry, dtype, settings.max_voxels)
    threshold = _fractional_threshold(dataset, options)
    known = {segment.number for segment in description.segments}
    stray = sorted(set(np.unique(frames.segment_numbers).tolist()) - known)
    if stray:
        raise BrokenFileError(
            "Malformed SEG", f"frames reference segments {stray} that SegmentSequence lacks"
        )
    frames_of = _frames_by_segment(frames.segment_numbers)
    for segment in segments:
        indices = frames_of.get(segment.number, [])
        if threshold is None and reader.reads_blocks:
            block = reader.block(indices)
            if block is None:
                builder.add_patches(segment, [])
                continue
            if _add_block(builder, segment, block, placement):
                continue
        patches = [
            placed
            for index, patch in reader.patches(indices)
            if patch is not None
            and (placed := placement.patch(index, patch, threshold)) is not None
        ]
        builder.add_patches(segment, patches)
    return builder.build()


def _frames_by_segment(segment_numbers: npt.NDArray[np.integer[Any]]) -> dict[int, list[int]]:
    """Frame indices of each segment number, in frame order, from ``segment_numbers``
    (frames,): one sort of the frame list, not a pass over it per segment (1000 segments of
    10 frames each would make that 10 million comparisons)."""
    if segment_numbers.size == 0:
        return {}
    order = np.argsort(segment_numbers, kind="stable")
    numbers, starts = np.unique(segment_numbers[order], return_index=True)
    groups = np.split(order, starts[1:])
    return {int(n): group.tolist() for n, group in zip(numbers, groups, strict=True)}
