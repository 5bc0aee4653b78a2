"""The frame table: the fast scan of raw per-frame bytes agrees with pydicom's parse."""

from __future__ import annotations

import numpy as np
import pytest
from pydicom.dataset import Dataset
from pydicom.uid import ExplicitVRLittleEndian, ImplicitVRLittleEndian

from segmesh.dicom.attributes import float_value
from segmesh.errors import BrokenFileError, UnprocessableError
from segmesh.seg.frames import read_seg_frames
from tests.test_seg_roundtrip import SHAPE, SPACING, ct_series, make_seg, reread


@pytest.mark.parametrize("transfer_syntax", [ExplicitVRLittleEndian, ImplicitVRLittleEndian])
@pytest.mark.parametrize("segmentation_type", ["BINARY", "LABELMAP"])
def test_scan_matches_pydicom(transfer_syntax: str, segmentation_type: str) -> None:
    images = ct_series()
    seg, _ = make_seg(images, segmentation_type, transfer_syntax)
    # Freshly read: the per-frame sequence is still raw bytes, so the scan is used.
    assert not hasattr(seg.get_item("PerFrameFunctionalGroupsSequence"), "keyword")
    scanned = read_seg_frames(seg)
    parsed_seg = reread(seg)
    groups = parsed_seg.PerFrameFunctionalGroupsSequence  # parsed by pydicom from here on
    parsed = read_seg_frames(parsed_seg)
    expected_positions = [
        [float(v) for v in item.PlanePositionSequence[0].ImagePositionPatient] for item in groups
    ]
    np.testing.assert_array_equal(scanned.positions, expected_positions)
    np.testing.assert_array_equal(parsed.positions, expected_positions)
    if segmentation_type == "BINARY":
        numbers = [int(i.SegmentIdentificationSequence[0].ReferencedSegmentNumber) for i in groups]
        assert scanned.segment_numbers.tolist() == numbers == parsed.segment_numbers.tolist()
        assert set(numbers) == {1, 2, 3}
    else:
        assert not scanned.segment_numbers.any()
    np.testing.assert_array_equal(scanned.orientation, parsed.orientation)
    np.testing.assert_array_equal(scanned.pixel_spacing, parsed.pixel_spacing)
    assert (scanned.rows, scanned.columns) == SHAPE[1:]


def test_per_frame_orientation_takes_the_careful_path() -> None:
    images = ct_series()
    seg, _ = make_seg(images)
    shared = seg.SharedFunctionalGroupsSequence[0]
    orientation = shared.PlaneOrientationSequence
    for item in seg.PerFrameFunctionalGroupsSequence:
        item.PlaneOrientationSequence = orientation
    del shared.PlaneOrientationSequence
    frames = read_seg_frames(reread(seg))
    np.testing.assert_allclose(frames.orientation, [1, 0, 0, 0, 1, 0])
    assert frames.count == int(seg.NumberOfFrames)


def test_per_frame_pixel_spacings_must_agree() -> None:
    """Frames of different PixelSpacing cannot share one grid: 422, never placed at frame 1's."""
    images = ct_series()
    seg, _ = make_seg(images)
    shared = seg.SharedFunctionalGroupsSequence[0]
    for index, item in enumerate(seg.PerFrameFunctionalGroupsSequence):
        measures = Dataset()
        measures.PixelSpacing = list(SPACING) if index == 0 else [2 * v for v in SPACING]
        measures.SliceThickness = 2.0
        item.PixelMeasuresSequence = [measures]
    del shared.PixelMeasuresSequence
    with pytest.raises(UnprocessableError, match="frame 2 has PixelSpacing"):
        read_seg_frames(reread(seg))


@pytest.mark.parametrize(
    ("keyword", "message"),
    [
        ("Rows", "Rows 0 and Columns"),
        ("Columns", "Columns 0: both"),
    ],
)
def test_missing_mandatory_attributes_are_a_broken_file(keyword: str, message: str) -> None:
    """400 naming what is wrong, not a traceback."""
    seg, _ = make_seg(ct_series())
    seg = reread(seg)
    delattr(seg, keyword)
    with pytest.raises(BrokenFileError, match=message):
        read_seg_frames(seg)


@pytest.mark.parametrize("value", ["abc", "nan", "inf", None])
def test_a_single_decimal_that_is_no_number_is_a_broken_file(value: object) -> None:
    # Found by the fuzz test on Debian 13: a DS of "abc" in SpacingBetweenSlices reached float().
    with pytest.raises(BrokenFileError, match="SpacingBetweenSlices"):
        float_value(value, "SpacingBetweenSlices")
    assert float_value("1.5", "SpacingBetweenSlices") == 1.5
