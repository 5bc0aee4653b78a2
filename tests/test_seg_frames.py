"""The frame table: the fast scan of raw per-frame bytes agrees with pydicom's parse."""

from __future__ import annotations

import copy

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


def _seg_whose_second_frame(keyword: str, value: list[str], parsed: bool) -> Dataset:
    """A SEG whose frame 2 has its own ``keyword`` ``value`` (ImagePositionPatient, or the
    orientation or spacing, moved from the shared groups to every frame); read back as Orthanc
    hands it over: with the per-frame sequence still raw bytes (the scan) or parsed."""
    seg, _ = make_seg(ct_series())
    shared = seg.SharedFunctionalGroupsSequence[0]
    sequence = {
        "ImagePositionPatient": "PlanePositionSequence",
        "ImageOrientationPatient": "PlaneOrientationSequence",
        "PixelSpacing": "PixelMeasuresSequence",
    }[keyword]
    if sequence in shared:
        for item in seg.PerFrameFunctionalGroupsSequence:
            setattr(item, sequence, copy.deepcopy(getattr(shared, sequence)))
        delattr(shared, sequence)
    getattr(seg.PerFrameFunctionalGroupsSequence[1], sequence)[0].__setattr__(keyword, value)
    seg = reread(seg)
    if parsed:
        assert len(seg.PerFrameFunctionalGroupsSequence) > 1  # parsed by pydicom from here on
    return seg


@pytest.mark.parametrize("parsed", [False, True])
@pytest.mark.parametrize(
    ("keyword", "value", "message"),
    [
        ("ImagePositionPatient", ["1e308", "0", "0"], "magnitude at most 1e\\+09"),
        ("ImagePositionPatient", ["-2e9", "0", "0"], "magnitude at most 1e\\+09"),
        ("ImagePositionPatient", ["1", "2", "3", "4"], "must hold 3 numbers"),
        ("ImagePositionPatient", ["1", "2"], "must hold 3 numbers"),
        ("ImageOrientationPatient", ["0"] * 6, "not two unit vectors spanning a plane"),
        ("ImageOrientationPatient", ["1", "0", "0", "1", "0", "0"], "not two unit vectors"),
        ("ImageOrientationPatient", ["3", "0", "0", "0", "3", "0"], "not two unit vectors"),
        ("PixelSpacing", ["0", "0.5"], "2 positive numbers"),
        ("PixelSpacing", ["-0.5", "0.5"], "2 positive numbers"),
    ],
)
def test_geometry_no_scanner_makes_is_a_broken_file(
    keyword: str, value: list[str], message: str, parsed: bool
) -> None:
    # Found by the fuzz test: a frame at 1e308 mm was placed (at some wrapped-around index) on
    # the native grid, and zero orientations logged numpy's warnings of NaN.
    seg = _seg_whose_second_frame(keyword, value, parsed)
    with pytest.raises(BrokenFileError, match=f"{keyword}.*{message}"):
        read_seg_frames(seg)


def test_slightly_imprecise_directions_are_kept() -> None:
    """Direction cosines written with few decimals (a column 0.9996 long) are directions."""
    seg, _ = make_seg(ct_series())
    plane = seg.SharedFunctionalGroupsSequence[0].PlaneOrientationSequence[0]
    plane.ImageOrientationPatient = ["1", "0", "0", "0", "0.9994", "0.0349"]
    frames = read_seg_frames(reread(seg))
    np.testing.assert_allclose(frames.orientation, [1, 0, 0, 0, 0.9994, 0.0349])
