"""Per-frame geometry and segment numbers of a SEG, read once into arrays.

A SEG with thousands of frames carries one PerFrameFunctionalGroupsSequence item per frame;
reading them into flat numpy arrays up front keeps every later step vectorised.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from pydicom.dataset import Dataset

from ..dicom.attributes import (
    direction_cosines,
    first_item,
    float_value,
    float_values,
    functional_group_item,
    pixel_spacing,
    within_magnitude,
)
from ..errors import BrokenFileError, UnprocessableError
from ..geometry import ORIENTATION_TOLERANCE

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
    item = functional_group_item(per_frame, shared, sequence, keyword)
    return None if item is None else item[keyword].value


def _slice_spacing(shared: Dataset | None) -> float:
    """SpacingBetweenSlices (else SliceThickness) of the shared PixelMeasuresSequence, mm; 0
    where absent."""
    measures = first_item(shared, "PixelMeasuresSequence") if shared is not None else None
    if measures is None:
        return 0.0
    value = measures.get("SpacingBetweenSlices", 0) or measures.get("SliceThickness", 0) or 0
    return abs(float_value(value, "SpacingBetweenSlices or SliceThickness"))


def _no_geometry(what: str) -> UnprocessableError:
    return UnprocessableError(
        "No patient geometry",
        f"{what}: the SEG cannot be placed in 3-D (a SEG on a projection image such as a "
        "radiograph, or a slide-microscopy SEG)",
    )


def _patterns(implicit: bool) -> tuple[re.Pattern[bytes], ...]:
    """Byte patterns (little endian) of ImagePositionPatient with its length, of
    ReferencedSegmentNumber with its value, and of the tags that must not be per-frame
    (ImageOrientationPatient, PixelSpacing) for the fast path."""
    if implicit:
        return (
            re.compile(rb"\x20\x00\x32\x00(....)", re.DOTALL),
            re.compile(rb"\x62\x00\x0b\x00\x02\x00\x00\x00(..)", re.DOTALL),
            re.compile(rb"\x20\x00\x37\x00|\x28\x00\x30\x00"),
        )
    return (
        re.compile(rb"\x20\x00\x32\x00DS(..)", re.DOTALL),
        re.compile(rb"\x62\x00\x0b\x00US\x02\x00(..)", re.DOTALL),
        re.compile(rb"\x20\x00\x37\x00|\x28\x00\x30\x00"),
    )


def _scan_per_frame(
    dataset: Dataset, frame_count: int, labelmap: bool
) -> tuple[FloatArray, IntArray] | None:
    """Positions and segment numbers read straight from the raw bytes of the per-frame
    functional groups, without building thousands of pydicom datasets (which dominates the
    decoding time of large SEGs). None, to take the careful path, where the sequence is already
    parsed, big endian, holds per-frame orientations or spacings, or where the number of
    matches is not exactly one per frame."""
    if "PerFrameFunctionalGroupsSequence" not in dataset or "NumberOfFrames" not in dataset:
        return None
    element = dataset.get_item("PerFrameFunctionalGroupsSequence")
    raw = getattr(element, "value", None)
    if not isinstance(raw, bytes) or not getattr(element, "is_little_endian", False):
        return None
    position_tag, number_tag, shared_only = _patterns(
        bool(getattr(element, "is_implicit_VR", False))
    )
    if shared_only.search(raw):
        return None
    positions_found = list(position_tag.finditer(raw))
    # A LABELMAP SEG's frames hold segment numbers as values: no ReferencedSegmentNumber.
    numbers_found = None if labelmap else number_tag.findall(raw)
    if len(positions_found) != frame_count or (
        numbers_found is not None and len(numbers_found) != frame_count
    ):
        return None
    texts = []
    for match in positions_found:
        length = int.from_bytes(match.group(1), "little")
        texts.append(raw[match.end() : match.end() + length])
    try:
        values = [float(v) for text in texts for v in text.decode("ascii").split("\\")]
    except (UnicodeDecodeError, ValueError):
        return None
    # The careful path reports a position that is not 3 numbers within MAX_MAGNITUDE.
    if len(values) != 3 * frame_count:
        return None
    positions = np.array(values, dtype=np.float64).reshape(frame_count, 3)
    if not within_magnitude(positions):
        return None
    if numbers_found is None:
        return positions, np.zeros(frame_count, dtype=np.int64)
    return positions, np.frombuffer(b"".join(numbers_found), dtype="<u2").astype(np.int64)


def read_seg_frames(dataset: Dataset) -> SegFrames:
    """The frame table of a SEG; 422 where frames have no patient position or orientation, or
    disagree on orientation or pixel spacing; 400 where Rows or Columns is missing."""
    frame_count = int(dataset.get("NumberOfFrames", 1) or 1)
    rows, columns = int(dataset.get("Rows") or 0), int(dataset.get("Columns") or 0)
    if rows <= 0 or columns <= 0:
        raise BrokenFileError(
            "Malformed SEG", f"Rows {rows} and Columns {columns}: both must be positive"
        )
    shared = first_item(dataset, "SharedFunctionalGroupsSequence")
    labelmap = str(dataset.get("SegmentationType", "")) == "LABELMAP"
    # Scan before touching the per-frame sequence: reading it through pydicom parses it.
    scanned = _scan_per_frame(dataset, frame_count, labelmap)
    if scanned is not None and shared is not None:
        orientation_value = _group_value(
            None, shared, "PlaneOrientationSequence", "ImageOrientationPatient"
        )
        spacing_value = _group_value(None, shared, "PixelMeasuresSequence", "PixelSpacing")
        if orientation_value is not None and spacing_value is not None:
            return SegFrames(
                positions=scanned[0],
                segment_numbers=scanned[1],
                orientation=direction_cosines(orientation_value),
                pixel_spacing=pixel_spacing(spacing_value),
                slice_spacing=_slice_spacing(shared),
                rows=rows,
                columns=columns,
            )
    per_frame_groups = dataset.get("PerFrameFunctionalGroupsSequence") or []
    if "NumberOfFrames" not in dataset:
        # Some single-frame SEGs omit NumberOfFrames (pydicom's liver_1frame.dcm carries 3
        # per-frame groups); the first frame's groups describe it.
        per_frame_groups = per_frame_groups[:1]
    if per_frame_groups and len(per_frame_groups) != frame_count:
        raise BrokenFileError(
            "Malformed SEG",
            f"{len(per_frame_groups)} per-frame functional groups for {frame_count} frames",
        )
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
        values = direction_cosines(frame_orientation)
        if orientation is None:
            orientation = values
        elif np.max(np.abs(values - orientation)) > ORIENTATION_TOLERANCE:
            raise UnprocessableError(
                "Mixed orientations",
                f"frame {index + 1} has ImageOrientationPatient {values.tolist()}, frame 1 "
                f"{orientation.tolist()}",
            )
        spacing_value = _group_value(per_frame, shared, "PixelMeasuresSequence", "PixelSpacing")
        if spacing_value is None:
            raise _no_geometry(f"frame {index + 1} has no PixelSpacing in PixelMeasuresSequence")
        frame_spacing = pixel_spacing(spacing_value)
        if spacing is None:
            spacing = frame_spacing
        elif not np.allclose(frame_spacing, spacing, rtol=1e-3):
            raise UnprocessableError(
                "Mixed pixel spacings",
                f"frame {index + 1} has PixelSpacing {frame_spacing.tolist()}, frame 1 "
                f"{spacing.tolist()}",
            )
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
    return SegFrames(
        positions=positions,
        segment_numbers=numbers,
        orientation=orientation,
        pixel_spacing=spacing,
        slice_spacing=_slice_spacing(shared),
        rows=rows,
        columns=columns,
    )
