"""Per-frame geometry and segment numbers of a SEG, read once into arrays.

A SEG with thousands of frames carries one PerFrameFunctionalGroupsSequence item per frame;
reading them into flat numpy arrays up front keeps every later step vectorised.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from pydicom.dataset import Dataset

from .attributes import first_item, float_values
from .errors import BrokenFileError, UnprocessableError
from .geometry import ORIENTATION_TOLERANCE

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


@dataclass(frozen=True, eq=False)
class SegFrames:
    """Where each frame of a SEG lies and which segment it holds.

    ``positions`` (frames, 3) ImagePositionPatient in LPS mm; ``segment_numbers`` (frames,)
    ReferencedSegmentNumber, 0 for a LABELMAP SEG whose frames hold segment numbers as values;
    ``orientation`` (6,) ImageOrientationPatient; ``pixel_spacing`` (row, column) mm;
    ``slice_spacing`` SpacingBetweenSlices (or SliceThickness) in mm, 0 where absent.
    """

    positions: FloatArray
    segment_numbers: IntArray
    orientation: FloatArray
    pixel_spacing: FloatArray
    slice_spacing: float
    rows: int
    columns: int

    @property
    def count(self) -> int:
        """Number of frames."""
        return int(self.segment_numbers.shape[0])


def _group_value(
    per_frame: Dataset | None, shared: Dataset | None, sequence: str, keyword: str
) -> object:
    """An attribute of a functional group, per-frame first, then shared."""
    for groups in (per_frame, shared):
        item = first_item(groups, sequence) if groups is not None else None
        if item is not None and keyword in item:
            return item[keyword].value
    return None


def _no_geometry(what: str) -> UnprocessableError:
    return UnprocessableError(
        "No patient geometry",
        f"{what}: the SEG cannot be placed in 3-D (a SEG on a projection image such as a "
        "radiograph, or a slide-microscopy SEG)",
    )


def read_seg_frames(dataset: Dataset) -> SegFrames:
    """The frame table of a SEG; 422 where frames have no patient position or orientation."""
    frame_count = int(dataset.get("NumberOfFrames", 1) or 1)
    per_frame_groups = dataset.get("PerFrameFunctionalGroupsSequence") or []
    shared = first_item(dataset, "SharedFunctionalGroupsSequence")
    if per_frame_groups and len(per_frame_groups) != frame_count:
        raise BrokenFileError(
            "Malformed SEG",
            f"{len(per_frame_groups)} per-frame functional groups for {frame_count} frames",
        )
    labelmap = str(dataset.get("SegmentationType", "")) == "LABELMAP"
    positions = np.empty((frame_count, 3), dtype=np.float64)
    numbers = np.zeros(frame_count, dtype=np.int64)
    orientation = None
    spacing = None
    for index in range(frame_count):
        per_frame = per_frame_groups[index] if per_frame_groups else None
        position = _group_value(per_frame, shared, "PlanePositionSequence", "ImagePositionPatient")
        if position is None:
            raise _no_geometry(f"frame {index + 1} has no PlanePositionSequence")
        positions[index] = float_values(position, 3, "ImagePositionPatient")
        frame_orientation = _group_value(
            per_frame, shared, "PlaneOrientationSequence", "ImageOrientationPatient"
        )
        if frame_orientation is None:
            raise _no_geometry(f"frame {index + 1} has no PlaneOrientationSequence")
        values = float_values(frame_orientation, 6, "ImageOrientationPatient")
        if orientation is None:
            orientation = values
        elif np.max(np.abs(values - orientation)) > ORIENTATION_TOLERANCE:
            raise UnprocessableError(
                "Mixed orientations",
                f"frame {index + 1} has ImageOrientationPatient {values.tolist()}, frame 1 "
                f"{orientation.tolist()}",
            )
        if spacing is None:
            pixel_spacing = _group_value(per_frame, shared, "PixelMeasuresSequence", "PixelSpacing")
            if pixel_spacing is None:
                raise _no_geometry("no PixelSpacing in PixelMeasuresSequence")
            spacing = float_values(pixel_spacing, 2, "PixelSpacing")
        if not labelmap:
            number = _group_value(
                per_frame, shared, "SegmentIdentificationSequence", "ReferencedSegmentNumber"
            )
            if number is None:
                raise BrokenFileError(
                    "Malformed SEG", f"frame {index + 1} has no ReferencedSegmentNumber"
                )
            numbers[index] = int(number)  # type: ignore[call-overload]
    if orientation is None or spacing is None:
        raise _no_geometry("the SEG has no frames")
    measures = first_item(shared, "PixelMeasuresSequence") if shared is not None else None
    slice_spacing = 0.0
    if measures is not None:
        slice_spacing = float(
            measures.get("SpacingBetweenSlices", 0) or measures.get("SliceThickness", 0) or 0
        )
    return SegFrames(
        positions=positions,
        segment_numbers=numbers,
        orientation=orientation,
        pixel_spacing=spacing,
        slice_spacing=abs(slice_spacing),
        rows=int(dataset.Rows),
        columns=int(dataset.Columns),
    )
