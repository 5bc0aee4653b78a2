"""The frame table: the fast scan of raw per-frame bytes agrees with pydicom's parse."""

from __future__ import annotations

import numpy as np
import pytest
from pydicom.uid import ExplicitVRLittleEndian, ImplicitVRLittleEndian

from segmesh.seg_frames import read_seg_frames
from tests.test_seg_roundtrip import SHAPE, ct_series, make_seg, reread


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
