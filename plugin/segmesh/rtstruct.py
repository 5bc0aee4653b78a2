"""DICOM RT Structure Sets."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pydicom.dataset import Dataset

from .color import RGB, default_color
from .description import SkippedSegment, SourceDescription
from .errors import BrokenFileError, UnsupportedError
from .kinds import Kind
from .labelmap import LabelMap, Segment
from .options import LabelMapOptions
from .settings import Settings

CLOSED_PLANAR = "CLOSED_PLANAR"


def _display_color(item: Dataset | None, number: int) -> RGB:
    value = item.get("ROIDisplayColor") if item is not None else None
    if value is not None and len(value) == 3:
        red, green, blue = (max(0, min(255, int(c))) for c in value)
        return red, green, blue
    return default_color(number)


def _skip_reason(contour_item: Dataset | None) -> str | None:
    """Why an ROI cannot become a label map, or None where it can."""
    contours = contour_item.get("ContourSequence", []) if contour_item is not None else []
    if not contours:
        return "empty ROI: no contours"
    types = {str(contour.get("ContourGeometricType", "")) for contour in contours}
    if CLOSED_PLANAR not in types:
        return f"no CLOSED_PLANAR contours (only {', '.join(sorted(types))})"
    if all(
        int(contour.get("NumberOfContourPoints", 0) or 0) < 3
        for contour in contours
        if contour.get("ContourGeometricType") == CLOSED_PLANAR
    ):
        return "every CLOSED_PLANAR contour has fewer than 3 points"
    return None


def referenced_series_uids(dataset: Dataset) -> tuple[str, ...]:
    """SeriesInstanceUIDs named in ReferencedFrameOfReferenceSequence."""
    uids = []
    for frame_item in dataset.get("ReferencedFrameOfReferenceSequence", []):
        for study_item in frame_item.get("RTReferencedStudySequence", []):
            for series_item in study_item.get("RTReferencedSeriesSequence", []):
                if "SeriesInstanceUID" in series_item:
                    uids.append(str(series_item.SeriesInstanceUID))
    return tuple(dict.fromkeys(uids))


def frame_of_reference_uid(dataset: Dataset) -> str:
    """The structure set's frame of reference: that of its ROIs, else the first referenced."""
    for item in dataset.get("StructureSetROISequence", []):
        if item.get("ReferencedFrameOfReferenceUID"):
            return str(item.ReferencedFrameOfReferenceUID)
    for item in dataset.get("ReferencedFrameOfReferenceSequence", []):
        if item.get("FrameOfReferenceUID"):
            return str(item.FrameOfReferenceUID)
    return ""


def describe_rtstruct(dataset: Dataset) -> SourceDescription:
    """ROIs, frame of reference and referenced series of an RT Structure Set; ROIs that cannot
    become a label map are listed in ``skipped`` with the reason."""
    if "StructureSetROISequence" not in dataset:
        raise BrokenFileError("Malformed RT-STRUCT", "StructureSetROISequence is missing")
    contours_by_roi = {
        int(item.ReferencedROINumber): item
        for item in dataset.get("ROIContourSequence", [])
        if "ReferencedROINumber" in item
    }
    observations = {
        int(item.ReferencedROINumber): item
        for item in dataset.get("RTROIObservationsSequence", [])
        if "ReferencedROINumber" in item
    }
    segments = []
    skipped = []
    try:
        for item in dataset.StructureSetROISequence:
            number = int(item.ROINumber)
            label = str(item.get("ROIName", ""))
            contour_item = contours_by_roi.get(number)
            reason = _skip_reason(contour_item)
            if reason is not None:
                skipped.append(SkippedSegment(number, label, reason))
                continue
            attributes: dict[str, Any] = {
                "InterpretedType": str(
                    observations.get(number, Dataset()).get("RTROIInterpretedType", "")
                ),
                "GenerationAlgorithm": str(item.get("ROIGenerationAlgorithm", "")),
            }
            segments.append(
                Segment(number, label, _display_color(contour_item, number), attributes=attributes)
            )
    except (AttributeError, TypeError, ValueError) as error:
        raise BrokenFileError("Malformed RT-STRUCT", str(error)) from error
    return SourceDescription(
        kind=Kind.RTSTRUCT,
        sop_class_uid=str(dataset.SOPClassUID),
        frame_of_reference_uid=frame_of_reference_uid(dataset),
        referenced_series_uids=referenced_series_uids(dataset),
        segments=tuple(segments),
        skipped=tuple(skipped),
    )


def rtstruct_to_labelmap(
    dataset: Dataset,
    images: Sequence[Dataset] | None,
    options: LabelMapOptions,
    settings: Settings,
) -> LabelMap:
    """The label map of an RT-STRUCT; see :func:`segmesh.sources.to_labelmap`."""
    raise UnsupportedError(
        "RT-STRUCT rasterisation is not available yet", str(dataset.SOPInstanceUID)
    )
