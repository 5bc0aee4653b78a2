"""The images a SEG or RT-STRUCT names, by series: what must be stored before it can be
converted on its source grid."""

from __future__ import annotations

from pydicom.dataset import Dataset


def referenced_images(dataset: Dataset) -> dict[str, set[str]]:
    """SeriesInstanceUID -> the SOPInstanceUIDs named in it: a SEG's ReferencedSeriesSequence
    (ReferencedInstanceSequence), an RT-STRUCT's RTReferencedSeriesSequence
    (ContourImageSequence, which is optional: a series may name no image)."""
    images: dict[str, set[str]] = {}
    series_items = list(dataset.get("ReferencedSeriesSequence", []))
    for frame_item in dataset.get("ReferencedFrameOfReferenceSequence", []):
        for study_item in frame_item.get("RTReferencedStudySequence", []):
            series_items.extend(study_item.get("RTReferencedSeriesSequence", []))
    for item in series_items:
        if "SeriesInstanceUID" not in item:
            continue
        named = images.setdefault(str(item.SeriesInstanceUID), set())
        for keyword in ("ReferencedInstanceSequence", "ContourImageSequence"):
            named.update(
                str(image.ReferencedSOPInstanceUID)
                for image in item.get(keyword, [])
                if "ReferencedSOPInstanceUID" in image
            )
    return images
