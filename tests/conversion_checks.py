"""Checks shared by the conversion tests: validity of written objects, contour geometry, Dice."""

from __future__ import annotations

import re
from io import BytesIO

import highdicom as hd
import numpy as np
import numpy.typing as npt
import pydicom
from pydicom.dataset import Dataset
from pydicom.uid import UID

from segmesh.geometry import VolumeGeometry
from segmesh.labelmap import LabelMap, LayerBuilder, Segment
from tests.conftest import encode
from tests.dciodvfy import dciodvfy_errors, dciodvfy_lines

LABEL_MAP_SEGMENTATION_STORAGE = "1.2.840.10008.5.1.4.1.1.66.7"
SEGMENTATION_STORAGE = UID("1.2.840.10008.5.1.4.1.1.66.4")

#: What Debian's dicom3tools (2022) reports for a Label Map Segmentation (Supplement 243, 2024)
#: checked against the Segmentation IOD it knows: differences the supplement made, not errors.
SUPPLEMENT_243_DIFFERENCES = (
    re.compile(
        r"Error - SegmentNumber not monotonically increasing from one by one .*"
        r"SegmentNumber of 0$"
    ),
    re.compile(r"Error - Unrecognized enumerated value <LABELMAP> .*<Segmentation Type>"),
    re.compile(r"Error - Value is zero for value 1 of attribute <Segment Number>"),
    re.compile(
        r"Error - Missing attribute Type 1 Required Element=<SegmentIdentificationSequence>"
    ),
)


def validation_errors(dataset: Dataset) -> list[str]:
    """dciodvfy's errors; a Label Map Segmentation, which this dciodvfy does not know, is checked
    as a Segmentation with the differences of Supplement 243 left out."""
    if str(dataset.SOPClassUID) != LABEL_MAP_SEGMENTATION_STORAGE:
        return dciodvfy_errors(encode(dataset))
    unknown = dciodvfy_errors(encode(dataset))
    assert "Error - Information Object Not found" in unknown, unknown
    as_seg = pydicom.dcmread(BytesIO(encode(dataset)))
    as_seg.SOPClassUID = SEGMENTATION_STORAGE
    as_seg.file_meta.MediaStorageSOPClassUID = SEGMENTATION_STORAGE
    return [
        line
        for line in dciodvfy_lines(encode(as_seg))
        if line.startswith("Error")
        and not any(pattern.match(line) for pattern in SUPPLEMENT_243_DIFFERENCES)
    ]


def written_and_read(dataset: Dataset) -> Dataset:
    """Checks a written object (dciodvfy, pydicom, highdicom for SEGs) and returns it as read
    back from its Part-10 bytes."""
    assert validation_errors(dataset) == []
    data = encode(dataset)
    read = pydicom.dcmread(BytesIO(data))
    if read.Modality == "SEG":
        seg = hd.seg.segread(BytesIO(data))
        described = {int(item.SegmentNumber) for item in read.SegmentSequence} - {0}
        assert set(seg.segment_numbers) - {0} == described
    return read


def labelmap_of(geometry: VolumeGeometry, masks: dict[int, npt.NDArray[np.bool_]]) -> LabelMap:
    """A label map of (slices, rows, columns) masks by segment number, generic segments."""
    builder = LayerBuilder(geometry, np.dtype(np.uint8))
    for number, mask in masks.items():
        slices = {k: mask[k] for k in range(mask.shape[0]) if mask[k].any()}
        builder.add(Segment(number, f"Segment {number}", (200, 100, 50 + number)), slices)
    return builder.build()


def dice(first: npt.NDArray[np.bool_], second: npt.NDArray[np.bool_]) -> float:
    total = int(first.sum()) + int(second.sum())
    return 1.0 if total == 0 else 2.0 * int(np.logical_and(first, second).sum()) / total


def _segments_cross(a: npt.NDArray[np.float64], b: npt.NDArray[np.float64]) -> bool:
    """Whether segment a (2, 2) properly crosses segment b (2, 2)."""

    def side(
        p: npt.NDArray[np.float64], q: npt.NDArray[np.float64], r: npt.NDArray[np.float64]
    ) -> float:
        return float((q[0] - p[0]) * (r[1] - p[1]) - (q[1] - p[1]) * (r[0] - p[0]))

    d1, d2 = side(b[0], b[1], a[0]), side(b[0], b[1], a[1])
    d3, d4 = side(a[0], a[1], b[0]), side(a[0], a[1], b[1])
    return d1 * d2 < 0 and d3 * d4 < 0


def is_simple(points: npt.NDArray[np.float64]) -> bool:
    """Whether a closed (N, 2) polygon has no two non-adjacent edges that cross."""
    edges = np.stack([points, np.roll(points, -1, axis=0)], axis=1)
    n = len(edges)
    lo, hi = edges.min(axis=1), edges.max(axis=1)
    for first in range(n):
        # Only edges whose boxes meet can cross: keeps the check near linear.
        candidates = np.flatnonzero(
            np.all(lo[first] <= hi, axis=1) & np.all(lo <= hi[first], axis=1)
        )
        for second in candidates[candidates > first + 1]:
            if first == 0 and second == n - 1:
                continue
            if _segments_cross(edges[first], edges[second]):
                return False
    return True
