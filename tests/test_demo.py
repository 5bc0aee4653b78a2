"""The demo study: valid DICOM (dciodvfy), organs where they should be, deterministic."""

from __future__ import annotations

import numpy as np
import pytest

from segmesh.demo import DemoStudy, make_demo_study
from tests.conftest import encode
from tests.dciodvfy import dciodvfy_errors


@pytest.mark.parametrize("name", ["CT", "SEG", "RTSTRUCT"])
def test_demo_objects_pass_dciodvfy(demo_study: DemoStudy, name: str) -> None:
    dataset = {"CT": demo_study.images[0], "SEG": demo_study.seg, "RTSTRUCT": demo_study.rtstruct}[
        name
    ]
    assert dciodvfy_errors(encode(dataset)) == []


def test_grid_has_non_square_pixels_and_an_origin_away_from_zero(demo_study: DemoStudy) -> None:
    geometry = demo_study.geometry
    column_spacing, row_spacing, slice_spacing = geometry.spacing
    assert column_spacing != row_spacing
    assert np.all(geometry.affine[:3, 3] != 0)
    assert slice_spacing == pytest.approx(2.5)


def test_liver_is_on_the_patients_right(demo_study: DemoStudy) -> None:
    k, j, i = np.nonzero(demo_study.masks[1])
    centroid = demo_study.geometry.index_to_lps(np.c_[i, j, k].mean(axis=0, keepdims=True))[0]
    assert centroid[0] < -20  # LPS: x grows to the patient's left
    hounsfield = demo_study.images[int(k.mean())].pixel_array[int(j.mean()), int(i.mean())]
    assert 20 < hounsfield < 100


def test_aorta_contours_have_a_hole(demo_study: DemoStudy) -> None:
    aorta = next(
        item for item in demo_study.rtstruct.ROIContourSequence if item.ReferencedROINumber == 6
    )
    per_plane: dict[str, int] = {}
    for contour in aorta.ContourSequence:
        per_plane[str(contour.ContourData[2])] = per_plane.get(str(contour.ContourData[2]), 0) + 1
    assert per_plane
    assert all(count == 2 for count in per_plane.values())  # outer wall and lumen


def test_demo_is_deterministic(demo_study: DemoStudy) -> None:
    again = make_demo_study()
    assert again.seg.SOPInstanceUID == demo_study.seg.SOPInstanceUID
    assert again.rtstruct.SOPInstanceUID == demo_study.rtstruct.SOPInstanceUID
    assert [i.SOPInstanceUID for i in again.images] == [i.SOPInstanceUID for i in demo_study.images]
    np.testing.assert_array_equal(again.images[5].pixel_array, demo_study.images[5].pixel_array)
