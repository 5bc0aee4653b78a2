"""The ROIs of an RT Structure Set as a label map.

An ROI's voxels are those whose centre lies inside its CLOSED_PLANAR contours on that slice
under the even-odd rule (:mod:`.polygon_fill`); contours find their slice by plane
position (:mod:`.contour_planes`). Whatever is not converted is reported in the
segment's attributes, never dropped silently:

- ``SkippedContours``: [{"Contour": item, "Reason": ...}], item being the 1-based position in
  the ROI's ContourSequence (POINT or OPEN_PLANAR, fewer than 3 points, on no slice, ...);
- ``ClippedContours``: [{"Contour": item, "Slice": k}] for contours partly outside the image;
- ``Warnings``: [text], e.g. a frame of reference that differs from the images' or that the
  structure set does not declare (:mod:`.frame_of_reference`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from pydicom.dataset import Dataset

from ..dicom.attributes import MAX_MAGNITUDE, within_magnitude
from ..dicom.references import referenced_images
from ..errors import LimitExceededError, UnprocessableError
from ..geometry import geometry_from_images
from ..labelmap import (
    LabelMap,
    LayerBuilder,
    Segment,
    SlicePatch,
    check_voxel_limit,
    label_dtype,
    select_segments,
)
from ..options import LabelMapOptions
from ..settings import Settings
from ..source_description import SourceDescription
from .contour_planes import Contour, native_grid, place_contours
from .frame_of_reference import check_foreign_contours, classify_frames
from .polygon_fill import FloatArray, fill_even_odd_box
from .structure_set import (
    contour_items,
    contour_point_count,
    contour_skip_reason,
    describe_rtstruct,
)


def _contour_data(contour: Dataset) -> FloatArray:
    """ContourData as a flat float array, parsed straight from the stored text where pydicom
    has not decoded it yet (decoding each DS value is the slow part of reading contours)."""
    value = contour.get_item("ContourData").value
    if isinstance(value, bytes):
        # Some writers pad with NUL instead of a space.
        text = value.decode("ascii", errors="replace").replace("\\", " ").replace("\x00", " ")
        return np.array(text.split(), dtype=np.float64)
    if isinstance(value, str | float | int):
        value = [value]
    return np.array([float(number) for number in value], dtype=np.float64)


def _closed_contours(
    contour_item: Dataset, with_images: bool
) -> tuple[list[Contour], list[dict[str, Any]]]:
    """The fillable contours of an ROI, and [{"Contour", "Reason"}] of malformed ones;
    ``with_images`` reads their ContourImageSequence too."""
    contours = []
    malformed = []
    for item, contour in enumerate(contour_item.get("ContourSequence", []), start=1):
        if contour_skip_reason(contour) is not None:
            continue
        try:
            data = _contour_data(contour) if "ContourData" in contour else np.empty(0)
        except (ValueError, TypeError, UnicodeError):
            data = np.array([np.nan])
        if data.size % 3 or data.size < 9 or not within_magnitude(data):
            malformed.append(
                {
                    "Contour": item,
                    "Reason": f"ContourData is not 3 or more points of magnitude at most "
                    f"{MAX_MAGNITUDE:g} mm ({data.size} values)",
                }
            )
            continue
        image_uids = tuple(
            str(image.get("ReferencedSOPInstanceUID", ""))
            for image in (contour.get("ContourImageSequence", []) if with_images else [])
        )
        contours.append(Contour(item, data.reshape(-1, 3), image_uids))
    return contours, malformed


def _selected(description: SourceDescription, numbers: tuple[int, ...] | None) -> list[Segment]:
    """The segments asked for: 400 for unknown numbers, 422 for ROIs that cannot convert."""
    skipped = {segment.number: segment for segment in description.skipped}
    selected = select_segments(
        description.segments, numbers, "the RT-STRUCT holds ROIs", also_held=skipped
    )
    for number in numbers or ():
        if number in skipped:
            raise UnprocessableError(
                "ROI cannot be converted", f"ROI {number}: {skipped[number].reason}"
            )
    return selected


def _check_images_complete(dataset: Dataset, images: Sequence[Dataset]) -> None:
    """422 where only part of the images the RT-STRUCT names in the series is stored: the map
    would be quietly cut to those slices. Where none of them is stored the references are
    stale (images exported anew) and contours are placed by plane, as always."""
    stored = {str(image.get("SOPInstanceUID", "")) for image in images}
    series_uid = str(images[0].get("SeriesInstanceUID", "")) if images else ""
    named = referenced_images(dataset).get(series_uid, set())
    missing = named - stored
    if missing and missing != named:
        raise UnprocessableError(
            "Referenced images missing",
            f"{len(missing)} of the {len(named)} images of series {series_uid} that the "
            "RT-STRUCT names are not stored; grid=native converts its contours without them",
        )


def rtstruct_to_labelmap(
    dataset: Dataset,
    images: Sequence[Dataset] | None,
    options: LabelMapOptions,
    settings: Settings,
) -> LabelMap:
    """The label map of an RT-STRUCT; see :func:`segmesh.sources.to_labelmap`.

    On the images' grid where ``images`` are given, else on :func:`native_grid` around the
    contours of every convertible ROI (``options.spacing``). Layers hold overlapping ROIs; the
    value of an ROI's voxels is its ROINumber.
    """
    description = describe_rtstruct(dataset)
    selected = _selected(description, options.segments)
    points = contour_point_count(dataset)
    if points > settings.max_contour_points:
        raise LimitExceededError(
            "Too many contour points",
            f"the RT-STRUCT holds {points}, above MaxContourPoints {settings.max_contour_points}",
        )
    items = contour_items(dataset)
    slices_of_image: dict[str, set[int]] = {}
    geometry = None
    if images is not None:
        _check_images_complete(dataset, images)
        geometry, sources = geometry_from_images(images)
        for k, (index, _frame) in enumerate(sources):
            uid = str(images[index].get("SOPInstanceUID", ""))
            slices_of_image.setdefault(uid, set()).add(k)
    frames = classify_frames(
        dataset,
        [segment.number for segment in selected],
        geometry.frame_of_reference_uid if geometry is not None else None,
    )
    contours: dict[int, list[Contour]] = {}
    malformed: dict[int, list[dict[str, Any]]] = {}
    for segment in description.segments if geometry is None else selected:
        # ContourImageSequence is read only where the frame of reference policy needs it.
        contours[segment.number], malformed[segment.number] = _closed_contours(
            items[segment.number], segment.number in frames.foreign
        )
    if geometry is None:
        every_contour = [contour for group in contours.values() for contour in group]
        geometry = native_grid(
            every_contour, options.spacing, description.frame_of_reference_uid, settings.max_voxels
        )
    else:
        check_voxel_limit(geometry.shape, settings.max_voxels)
    placements = {s.number: place_contours(contours[s.number], geometry) for s in selected}
    check_foreign_contours(
        frames, geometry.frame_of_reference_uid, slices_of_image, placements, contours
    )
    builder = LayerBuilder(
        geometry, label_dtype([segment.number for segment in selected]), settings.max_voxels
    )
    for segment in selected:
        placement = placements[segment.number]
        patches = []
        for k, polygons in sorted(placement.polygons.items()):
            box = fill_even_odd_box(polygons, geometry.shape[1:])
            if box is not None and box[2].any():
                patches.append(SlicePatch(k, box[0], box[1], box[2]))
        attributes = dict(segment.attributes)
        attributes["SkippedContours"] = sorted(
            [
                *attributes.get("SkippedContours", []),
                *malformed[segment.number],
                *({"Contour": item, "Reason": reason} for item, reason in placement.skipped),
            ],
            key=lambda entry: int(entry["Contour"]),
        )
        attributes["ClippedContours"] = [
            {"Contour": item, "Slice": k} for item, k in sorted(placement.clipped)
        ]
        attributes["Warnings"] = frames.warnings.get(segment.number, [])
        builder.add_patches(
            Segment(segment.number, segment.label, segment.color, attributes=attributes), patches
        )
    return builder.build()
