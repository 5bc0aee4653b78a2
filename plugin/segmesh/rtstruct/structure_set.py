"""What an RT Structure Set holds: its ROIs (number, name, colour, type), the contours each has,
the series and frame of reference it refers to, and what cannot be converted (and why)."""

from __future__ import annotations

from typing import Any

from pydicom.dataset import Dataset

from ..dicom.color import RGB, default_color
from ..dicom.sop_classes import Kind
from ..errors import BrokenFileError
from ..labelmap import Segment
from ..source_description import SkippedSegment, SourceDescription
from .frame_of_reference import structure_set_frame

CLOSED_PLANAR = "CLOSED_PLANAR"


def _display_color(item: Dataset | None, number: int) -> RGB:
    value = item.get("ROIDisplayColor") if item is not None else None
    if value is not None and len(value) == 3:
        red, green, blue = (max(0, min(255, int(c))) for c in value)
        return red, green, blue
    return default_color(number)


def _text(dataset: Dataset, keyword: str) -> str:
    """A short attribute's value as text, read from the stored bytes where pydicom has not
    converted it yet: structure sets hold tens of thousands of contours, and converting each
    element is what makes reading them slow."""
    if keyword not in dataset:
        return ""
    value = dataset.get_item(keyword).value
    if isinstance(value, bytes):
        return value.decode("ascii", errors="replace").strip(" \x00")
    return "" if value is None else str(value)


def contour_skip_reason(contour: Dataset) -> str | None:
    """Why one contour cannot be filled, or None where it can."""
    geometric_type = _text(contour, "ContourGeometricType")
    if geometric_type != CLOSED_PLANAR:
        return f"{geometric_type or 'no ContourGeometricType'} contour"
    if int(_text(contour, "NumberOfContourPoints") or 0) < 3:
        return "fewer than 3 points"
    return None


def _skip_reason(contour_item: Dataset | None) -> str | None:
    """Why an ROI cannot become a label map, or None where it can."""
    contours = contour_item.get("ContourSequence", []) if contour_item is not None else []
    if not contours:
        return "empty ROI: no contours"
    types = {_text(contour, "ContourGeometricType") for contour in contours}
    if CLOSED_PLANAR not in types:
        return f"no CLOSED_PLANAR contours (only {', '.join(sorted(types))})"
    if all(contour_skip_reason(contour) is not None for contour in contours):
        return "every CLOSED_PLANAR contour has fewer than 3 points"
    return None


def _skipped_contours(contour_item: Dataset) -> list[dict[str, Any]]:
    """[{"Contour": item, "Reason": ...}] of the contours of an ROI that cannot be filled."""
    skipped = []
    for item, contour in enumerate(contour_item.get("ContourSequence", []), start=1):
        reason = contour_skip_reason(contour)
        if reason is not None:
            skipped.append({"Contour": item, "Reason": reason})
    return skipped


def referenced_series_uids(dataset: Dataset) -> tuple[str, ...]:
    """SeriesInstanceUIDs named in ReferencedFrameOfReferenceSequence."""
    uids = []
    for frame_item in dataset.get("ReferencedFrameOfReferenceSequence", []):
        for study_item in frame_item.get("RTReferencedStudySequence", []):
            for series_item in study_item.get("RTReferencedSeriesSequence", []):
                if "SeriesInstanceUID" in series_item:
                    uids.append(str(series_item.SeriesInstanceUID))
    return tuple(dict.fromkeys(uids))


def contour_items(dataset: Dataset) -> dict[int, Dataset]:
    return {
        int(item.ReferencedROINumber): item
        for item in dataset.get("ROIContourSequence", [])
        if "ReferencedROINumber" in item
    }


def describe_rtstruct(dataset: Dataset) -> SourceDescription:
    """ROIs, frame of reference and referenced series of an RT Structure Set; ROIs that cannot
    become a label map are listed in ``skipped`` with the reason, and contours that cannot be
    filled in the ROI's ``SkippedContours``."""
    if "StructureSetROISequence" not in dataset:
        raise BrokenFileError("Malformed RT-STRUCT", "StructureSetROISequence is missing")
    observations = {
        int(item.ReferencedROINumber): item
        for item in dataset.get("RTROIObservationsSequence", [])
        if "ReferencedROINumber" in item
    }
    segments = []
    skipped = []
    try:
        frame = structure_set_frame(dataset)
        contours_by_roi = contour_items(dataset)
        for item in dataset.StructureSetROISequence:
            number = int(item.ROINumber)
            label = str(item.get("ROIName", ""))
            contour_item = contours_by_roi.get(number)
            reason = _skip_reason(contour_item)
            if contour_item is None or reason is not None:
                skipped.append(SkippedSegment(number, label, reason or "no contours"))
                continue
            attributes: dict[str, Any] = {
                "InterpretedType": str(
                    observations.get(number, Dataset()).get("RTROIInterpretedType", "")
                ),
                "GenerationAlgorithm": str(item.get("ROIGenerationAlgorithm", "")),
                "SkippedContours": _skipped_contours(contour_item),
            }
            segments.append(
                Segment(number, label, _display_color(contour_item, number), attributes=attributes)
            )
    except (AttributeError, TypeError, ValueError) as error:
        raise BrokenFileError("Malformed RT-STRUCT", str(error)) from error
    return SourceDescription(
        kind=Kind.RTSTRUCT,
        sop_class_uid=str(dataset.SOPClassUID),
        frame_of_reference_uid=frame,
        referenced_series_uids=referenced_series_uids(dataset),
        segments=tuple(segments),
        skipped=tuple(skipped),
    )


def contour_point_count(dataset: Dataset) -> int:
    """How many contour points the structure set holds, counted on the stored values without
    parsing them: the larger of NumberOfContourPoints and the values of ContourData / 3."""
    total = 0
    for item in dataset.get("ROIContourSequence", []):
        for contour in item.get("ContourSequence", []):
            declared = _text(contour, "NumberOfContourPoints")
            stored = 0
            if "ContourData" in contour:
                value = contour.get_item("ContourData").value
                stored = (
                    (value.count(b"\\") + 1) // 3
                    if isinstance(value, bytes)
                    else len(value or ()) // 3
                )
            total += max(int(declared) if declared.isdigit() else 0, stored)
    return total
