"""The frame of reference of RT-STRUCT ROIs in the pure core: an ROI in a frame the structure
set does not declare converts in the declared frame with a warning; a foreign one is 422."""

from __future__ import annotations

import numpy as np
import pytest

from segmesh.errors import UnprocessableError
from segmesh.rtstruct import describe_rtstruct, rtstruct_to_labelmap
from tests.rtstruct_synthetic import Roi, Series, rtstruct
from tests.test_rtstruct_core import ALL, SETTINGS, expected_volume, square, synthetic_case


def test_an_undeclared_roi_frame_is_converted_in_the_declared_frame() -> None:
    series = Series(np.c_[np.zeros(4), np.zeros(4), [0.0, 2.5, 5.0, 7.5]])
    roi, polygons = synthetic_case(series)
    declared = series.frame_of_reference_uid
    consistent = rtstruct_to_labelmap(rtstruct([roi], declared), series.images(), ALL, SETTINGS)
    inconsistent = rtstruct([roi], declared, roi_frame_of_reference_uid="1.2.3.888")
    assert describe_rtstruct(inconsistent).frame_of_reference_uid == declared
    labelmap = rtstruct_to_labelmap(inconsistent, series.images(), ALL, SETTINGS)
    np.testing.assert_array_equal(labelmap.mask(1), expected_volume(series, polygons))
    np.testing.assert_array_equal(labelmap.mask(1), consistent.mask(1))
    assert consistent.segments[0].attributes["Warnings"] == []
    [warning] = labelmap.segments[0].attributes["Warnings"]
    assert warning == (
        f"ROI 1 is in FrameOfReferenceUID 1.2.3.888, which the RT-STRUCT does not declare in "
        f"ReferencedFrameOfReferenceSequence ({declared}); converted in the declared {declared}, "
        "the images' frame"
    )
    native = rtstruct_to_labelmap(inconsistent, None, ALL, SETTINGS)
    assert native.geometry.frame_of_reference_uid == declared
    assert "converted in " + declared in native.segments[0].attributes["Warnings"][0]


def test_only_the_rois_in_an_undeclared_frame_carry_the_warning() -> None:
    series = Series(np.c_[np.zeros(3), np.zeros(3), [0.0, 2.0, 4.0]])
    declared = series.frame_of_reference_uid
    first = Roi(1, "First").add(series.to_lps(1, square(1.5, 1.5, 4.5, 4.5)))
    second = Roi(2, "Second").add(series.to_lps(2, square(5.5, 5.5, 9.5, 8.5)))
    dataset = rtstruct([first, second], declared)
    dataset.StructureSetROISequence[1].ReferencedFrameOfReferenceUID = "1.2.3.888"
    labelmap = rtstruct_to_labelmap(dataset, series.images(), ALL, SETTINGS)
    assert labelmap.mask(1).sum(axis=(1, 2)).tolist() == [0, 9, 0]
    assert labelmap.mask(2).sum(axis=(1, 2)).tolist() == [0, 0, 12]
    assert labelmap.segment(1).attributes["Warnings"] == []
    assert (
        "ROI 2 is in FrameOfReferenceUID 1.2.3.888" in labelmap.segment(2).attributes["Warnings"][0]
    )


def test_an_roi_in_the_images_frame_under_another_declared_one_is_converted() -> None:
    series = Series(np.c_[np.zeros(3), np.zeros(3), [0.0, 2.0, 4.0]])
    roi = Roi(1, "Images").add(series.to_lps(1, square(1.5, 1.5, 4.5, 4.5)))
    dataset = rtstruct([roi], "1.2.3.777", roi_frame_of_reference_uid=series.frame_of_reference_uid)
    labelmap = rtstruct_to_labelmap(dataset, series.images(), ALL, SETTINGS)
    assert labelmap.mask(1).sum(axis=(1, 2)).tolist() == [0, 9, 0]
    [warning] = labelmap.segments[0].attributes["Warnings"]
    assert "does not declare in ReferencedFrameOfReferenceSequence (1.2.3.777)" in warning


def test_a_foreign_roi_frame_neither_declared_nor_the_images_is_422() -> None:
    series = Series(np.c_[np.zeros(3), np.zeros(3), [0.0, 2.0, 4.0]])
    roi = Roi(1, "Foreign").add(series.to_lps(1, square(1.5, 1.5, 4.5, 4.5)))
    dataset = rtstruct([roi], "1.2.3.777", roi_frame_of_reference_uid="1.2.3.888")
    with pytest.raises(UnprocessableError) as raised:
        rtstruct_to_labelmap(dataset, series.images(), ALL, SETTINGS)
    assert raised.value.message == "Frame of reference mismatch"
    assert "FrameOfReferenceUID 1.2.3.888 of the RT-STRUCT differs" in raised.value.details
