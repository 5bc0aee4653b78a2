"""RT-STRUCT to label map in the pure core: exact even-odd filling, slice matching, reports."""

from __future__ import annotations

import glob
from pathlib import Path

import numpy as np
import pydicom
import pytest

from segmesh.errors import BadRequestError, LimitExceededError, UnprocessableError
from segmesh.options import LabelMapOptions
from segmesh.rtstruct import describe_rtstruct, rtstruct_to_labelmap
from segmesh.rtstruct.polygon_fill import fill_even_odd
from segmesh.settings import Settings
from tests.rtstruct_synthetic import Roi, Series, expected_slice, random_polygon, rtstruct
from tests.testdata import testdata as shared

SETTINGS = Settings()
ALL = LabelMapOptions()


def square(x0: float, y0: float, x1: float, y1: float) -> np.ndarray:
    return np.array([[x0, y0], [x1, y0], [x1, y1], [x0, y1]])


# --- polygon filling ---------------------------------------------------------------------


def test_fill_equals_per_polygon_xor_on_random_polygons() -> None:
    rng = np.random.default_rng(7)
    for _ in range(200):
        shape = (int(rng.integers(3, 50)), int(rng.integers(3, 50)))
        polygons = [
            rng.uniform(-6, max(shape) + 6, size=(int(rng.integers(3, 12)), 2))
            for _ in range(int(rng.integers(1, 4)))
        ]
        np.testing.assert_array_equal(
            fill_even_odd(polygons, shape), expected_slice(polygons, shape)
        )


def test_hole_keyhole_and_disjoint_contours() -> None:
    shape = (30, 30)
    outer, inner = square(2.3, 2.3, 20.7, 20.7), square(8.4, 8.4, 14.6, 14.6)
    ring = fill_even_odd([outer, inner], shape)
    assert ring.sum() == 18 * 18 - 6 * 6  # centres 3..20 minus 9..14
    assert not ring[11, 11]
    assert ring[3, 3]
    # A keyhole: one contour going round the outside, in along a cut, round the hole backwards.
    keyhole = np.array(
        [
            [2.3, 2.3], [20.7, 2.3], [20.7, 20.7], [2.3, 20.7], [2.3, 11.5],
            [8.4, 11.5], [8.4, 14.6], [14.6, 14.6], [14.6, 8.4], [8.4, 8.4], [8.4, 11.5],
            [2.3, 11.5],
        ]
    )  # fmt: skip
    np.testing.assert_array_equal(fill_even_odd([keyhole], shape), ring)
    disjoint = fill_even_odd([square(0.5, 0.5, 3.5, 3.5), square(25.5, 25.5, 28.5, 28.5)], shape)
    assert disjoint.sum() == 18
    assert disjoint[1, 1]
    assert disjoint[27, 27]


def test_parts_outside_the_image_are_clipped() -> None:
    mask = fill_even_odd([square(-10.5, -3.5, 4.5, 100.5)], (20, 10))
    assert mask.sum() == 5 * 20  # columns 0..4 of every row


def test_centre_on_an_edge_follows_pnpoly() -> None:
    # Centres exactly on the left edge are inside, on the right edge outside (x < crossing).
    mask = fill_even_odd([square(2.0, 1.5, 5.0, 4.5)], (6, 8))
    assert mask[2].nonzero()[0].tolist() == [2, 3, 4]


# --- synthetic series ----------------------------------------------------------------------


def expected_volume(series: Series, polygons_by_slice: dict[int, list[np.ndarray]]) -> np.ndarray:
    volume = np.zeros((len(series.positions), *series.shape), dtype=bool)
    for k, polygons in polygons_by_slice.items():
        volume[k] = expected_slice(polygons, series.shape)
    return volume


def synthetic_case(series: Series, seed: int = 3) -> tuple[Roi, dict[int, list[np.ndarray]]]:
    """An ROI with a hole on slice 0, two disjoint contours on slice 1, random stars after."""
    rng = np.random.default_rng(seed)
    rows, columns = series.shape
    polygons: dict[int, list[np.ndarray]] = {
        0: [square(3.3, 4.2, 30.7, 33.6), square(10.1, 12.4, 20.6, 22.2)],
        1: [square(2.2, 2.2, 12.6, 9.4), random_polygon(rng, (35.2, 25.7), 9.0)],
    }
    for k in range(2, len(series.positions)):
        polygons[k] = [random_polygon(rng, (columns / 2 + 0.3, rows / 2 + 0.1), 15.0, 12)]
    roi = Roi(1, "Synthetic")
    for k, slice_polygons in polygons.items():
        for polygon in slice_polygons:
            roi.add(series.to_lps(k, polygon))
    return roi, polygons


@pytest.mark.parametrize(
    "orientation",
    [
        (1.0, 0.0, 0.0, 0.0, 1.0, 0.0),  # axial
        (0.0, 1.0, 0.0, 0.0, 0.0, -1.0),  # sagittal
        (0.8, 0.6, 0.0, -0.36, 0.48, -0.8),  # oblique
    ],
    ids=["axial", "sagittal", "oblique"],
)
def test_synthetic_series_shuffled(orientation: tuple[float, ...]) -> None:
    row, column = np.array(orientation[:3]), np.array(orientation[3:])
    normal = np.cross(row, column)
    origin = np.array([-31.7, 12.2, 48.9])
    series = Series(origin + np.arange(6)[:, None] * 2.5 * normal, orientation)
    roi, polygons = synthetic_case(series)
    images = series.images()
    shuffled = [images[k] for k in (3, 0, 5, 1, 4, 2)]
    labelmap = rtstruct_to_labelmap(
        rtstruct([roi], series.frame_of_reference_uid), shuffled, ALL, SETTINGS
    )
    np.testing.assert_array_equal(labelmap.mask(1), expected_volume(series, polygons))
    assert labelmap.mask(1)[0, 15, 15] == 0  # the hole
    assert labelmap.segments[0].attributes["SkippedContours"] == []


def test_non_uniform_spacing_and_unmatched_planes_are_reported() -> None:
    offsets = np.array([0.0, 2.0, 5.0, 9.0, 10.0])
    series = Series(np.c_[np.zeros(5), np.zeros(5), offsets])
    roi, polygons = synthetic_case(series)
    star = random_polygon(np.random.default_rng(5), (20.0, 20.0), 8.0)
    # 13 mm is 3 mm beyond the last slice (tolerance there: half of 1 mm): on no slice.
    roi.add(np.c_[series.to_lps(0, star)[:, :2], np.full(len(star), 13.0)])
    # 9.8 mm is 0.2 mm from slice 4 (at 10 mm), which holds its own contour: reported.
    roi.add(np.c_[series.to_lps(0, star)[:, :2], np.full(len(star), 9.8)])
    # Tilted across 6 mm: not parallel to the slices.
    tilted = series.to_lps(2, star)
    tilted[:, 2] += np.linspace(-3.0, 3.0, len(star))
    roi.add(tilted)
    labelmap = rtstruct_to_labelmap(
        rtstruct([roi], series.frame_of_reference_uid), series.images(), ALL, SETTINGS
    )
    np.testing.assert_array_equal(labelmap.mask(1), expected_volume(series, polygons))
    skipped = labelmap.segments[0].attributes["SkippedContours"]
    assert [entry["Contour"] for entry in skipped] == [8, 9, 10]
    assert "matches no slice" in skipped[0]["Reason"]
    assert "slice 4 already takes the contours at 10.000 mm" in skipped[1]["Reason"]
    assert "not parallel" in skipped[2]["Reason"]


def test_contour_between_slices_goes_to_the_nearest_within_half_spacing() -> None:
    series = Series(np.c_[np.zeros(3), np.zeros(3), [0.0, 3.0, 6.0]])
    polygon = square(5.5, 5.5, 9.5, 9.5)
    roi = Roi(1, "Shifted").add(series.to_lps(1, polygon) + np.array([0.0, 0.0, 1.4]))
    labelmap = rtstruct_to_labelmap(
        rtstruct([roi], series.frame_of_reference_uid), series.images(), ALL, SETTINGS
    )
    assert labelmap.mask(1).sum(axis=(1, 2)).tolist() == [0, 16, 0]


def test_clipped_contours_are_reported() -> None:
    series = Series(np.c_[np.zeros(2), np.zeros(2), [0.0, 2.0]], shape=(10, 12))
    roi = Roi(1, "Wide").add(series.to_lps(1, square(-5.5, 2.5, 30.5, 4.5)))
    roi.add(series.to_lps(0, square(1.5, 1.5, 3.5, 3.5)))
    labelmap = rtstruct_to_labelmap(
        rtstruct([roi], series.frame_of_reference_uid), series.images(), ALL, SETTINGS
    )
    assert labelmap.segments[0].attributes["ClippedContours"] == [{"Contour": 1, "Slice": 1}]
    assert labelmap.mask(1)[1].sum() == 2 * 12


def test_overlapping_rois_go_to_layers() -> None:
    series = Series(np.c_[np.zeros(2), np.zeros(2), [0.0, 2.0]])
    body = Roi(1, "Body").add(series.to_lps(0, square(1.5, 1.5, 40.5, 30.5)))
    organ = Roi(7, "Organ").add(series.to_lps(0, square(5.5, 5.5, 9.5, 9.5)))
    apart = Roi(300, "Apart").add(series.to_lps(1, square(5.5, 5.5, 9.5, 9.5)))
    labelmap = rtstruct_to_labelmap(
        rtstruct([body, organ, apart], series.frame_of_reference_uid),
        series.images(),
        ALL,
        SETTINGS,
    )
    assert [(s.number, s.layer) for s in labelmap.segments] == [(1, 0), (7, 1), (300, 0)]
    assert labelmap.layers.dtype == np.uint16
    assert labelmap.mask(1).sum() == 39 * 29
    assert labelmap.mask(7).sum() == 16
    assert labelmap.layers[1, 0, 7, 7] == 7
    assert labelmap.layers[0, 1, 7, 7] == 300


def test_skipped_contours_and_rois_are_reported() -> None:
    series = Series(np.c_[np.zeros(2), np.zeros(2), [0.0, 2.0]])
    good = Roi(1, "Good").add(series.to_lps(0, square(1.5, 1.5, 4.5, 4.5)))
    good.add(series.to_lps(0, [[3.0, 3.0]]), "POINT")
    good.add(series.to_lps(1, square(1.5, 1.5, 4.5, 4.5))[:2])
    good.add(series.to_lps(1, square(1.5, 1.5, 4.5, 4.5)), "OPEN_PLANAR")
    point = Roi(2, "Marker").add(series.to_lps(0, [[3.0, 3.0]]), "POINT")
    empty = Roi(3, "Empty")
    good.add(series.to_lps(1, square(2.5, 2.5, 5.5, 5.5)))
    dataset = rtstruct([good, point, empty], series.frame_of_reference_uid)
    description = describe_rtstruct(dataset)
    assert [(s.number, s.reason) for s in description.skipped] == [
        (2, "no CLOSED_PLANAR contours (only POINT)"),
        (3, "empty ROI: no contours"),
    ]
    labelmap = rtstruct_to_labelmap(dataset, series.images(), ALL, SETTINGS)
    assert [s.number for s in labelmap.segments] == [1]
    assert labelmap.segments[0].attributes["SkippedContours"] == [
        {"Contour": 2, "Reason": "POINT contour"},
        {"Contour": 3, "Reason": "fewer than 3 points"},
        {"Contour": 4, "Reason": "OPEN_PLANAR contour"},
    ]
    assert labelmap.mask(1).sum(axis=(1, 2)).tolist() == [9, 9]
    dataset.ROIContourSequence[0].ContourSequence[4].ContourData = ["1.0"] * 7
    labelmap = rtstruct_to_labelmap(dataset, series.images(), ALL, SETTINGS)
    assert labelmap.segments[0].attributes["SkippedContours"][-1] == {
        "Contour": 5,
        "Reason": "ContourData is not 3 or more points of magnitude at most 1e+09 mm (7 values)",
    }
    dataset.ROIContourSequence[0].ContourSequence[4].ContourData = ["1e300"] * 9
    labelmap = rtstruct_to_labelmap(dataset, series.images(), ALL, SETTINGS)
    assert labelmap.segments[0].attributes["SkippedContours"][-1] == {
        "Contour": 5,
        "Reason": "ContourData is not 3 or more points of magnitude at most 1e+09 mm (9 values)",
    }
    # Slice 1's only closed contour was that one: nothing of it is drawn anywhere.
    assert labelmap.mask(1).sum(axis=(1, 2)).tolist() == [9, 0]
    with pytest.raises(UnprocessableError, match="ROI 2: no CLOSED_PLANAR"):
        rtstruct_to_labelmap(dataset, series.images(), LabelMapOptions(segments=(2,)), SETTINGS)
    with pytest.raises(BadRequestError, match=r"\[9\]: the RT-STRUCT holds ROIs \[1, 2, 3\]"):
        rtstruct_to_labelmap(dataset, series.images(), LabelMapOptions(segments=(9,)), SETTINGS)


def test_max_voxels_is_413() -> None:
    series = Series(np.c_[np.zeros(2), np.zeros(2), [0.0, 2.0]])
    roi = Roi(1, "Good").add(series.to_lps(0, square(1.5, 1.5, 4.5, 4.5)))
    with pytest.raises(LimitExceededError):
        rtstruct_to_labelmap(
            rtstruct([roi], series.frame_of_reference_uid),
            series.images(),
            ALL,
            Settings(max_voxels=1000),
        )
    # A native grid of 1 nm voxels would be ~1e20 voxels: refused before any allocation.
    with pytest.raises(LimitExceededError, match="above MaxVoxels 2000000000"):
        rtstruct_to_labelmap(
            rtstruct([roi], series.frame_of_reference_uid),
            None,
            LabelMapOptions(spacing=(1e-6, 1e-6, 1e-6)),
            SETTINGS,
        )
    # Contours on two planes 2 mm apart and a 1e-300 mm slice step: ~1e300 slices, refused
    # before their positions are allocated.
    second = Roi(2, "Other").add(series.to_lps(1, square(1.5, 1.5, 4.5, 4.5)))
    with pytest.raises(LimitExceededError, match="above MaxVoxels 2000000000"):
        rtstruct_to_labelmap(
            rtstruct([roi, second], series.frame_of_reference_uid),
            None,
            LabelMapOptions(spacing=(1.0, 1.0, 1e-300)),
            SETTINGS,
        )


# --- frame of reference policy ---------------------------------------------------------------


def test_frame_of_reference_mismatch_needs_contours_on_their_referenced_images() -> None:
    series = Series(np.c_[np.zeros(3), np.zeros(3), [0.0, 2.0, 4.0]])
    polygon = square(1.5, 1.5, 4.5, 4.5)
    uids = series.sop_instance_uids
    tied = Roi(1, "Tied").add(series.to_lps(1, polygon), images=[uids[1]])
    labelmap = rtstruct_to_labelmap(rtstruct([tied], "1.2.3.999"), series.images(), ALL, SETTINGS)
    assert labelmap.mask(1).sum(axis=(1, 2)).tolist() == [0, 9, 0]
    assert (
        "FrameOfReferenceUID 1.2.3.999 of the RT-STRUCT differs"
        in (labelmap.segments[0].attributes["Warnings"][0])
    )
    for images in ([], [uids[2]], ["1.2.3.4"]):
        loose = Roi(1, "Loose").add(series.to_lps(1, polygon), images=images)
        with pytest.raises(UnprocessableError, match="does not lie on an image it names"):
            rtstruct_to_labelmap(rtstruct([loose], "1.2.3.999"), series.images(), ALL, SETTINGS)


# --- native grid -------------------------------------------------------------------------------


def test_native_grid_around_contours() -> None:
    series = Series(np.c_[np.zeros(4), np.zeros(4), [0.0, 3.0, 6.0, 9.0]])
    roi, _ = synthetic_case(series)
    dataset = rtstruct([roi], series.frame_of_reference_uid)
    labelmap = rtstruct_to_labelmap(
        dataset, None, LabelMapOptions(spacing=(0.3, 0.4, 3.0)), SETTINGS
    )
    geometry = labelmap.geometry
    assert geometry.spacing == pytest.approx((0.3, 0.4, 3.0))
    assert geometry.slice_offsets.tolist() == pytest.approx([-3.0, 0.0, 3.0, 6.0, 9.0, 12.0])
    assert np.allclose(geometry.affine[:3, :3], np.diag([0.3, 0.4, 3.0]))
    # Voxel centres on multiples of the spacing, one empty voxel of margin.
    assert np.allclose(
        np.round(geometry.affine[:2, 3] / [0.3, 0.4]), geometry.affine[:2, 3] / [0.3, 0.4]
    )
    origin = geometry.affine[:3, 3]
    expected = np.zeros(geometry.shape, dtype=bool)
    for points, _kind, _images in roi.contours:
        k = round((points[0, 2] - origin[2]) / 3.0)
        ij = (points[:, :2] - origin[:2]) / [0.3, 0.4]
        expected[k] ^= expected_slice([ij], geometry.shape[1:])
    np.testing.assert_array_equal(labelmap.mask(1), expected)
    assert not expected[0].any()
    assert not expected[-1].any()
    assert not expected[:, 0].any()
    assert not expected[:, :, 0].any()
    default = rtstruct_to_labelmap(dataset, None, ALL, SETTINGS)
    assert default.geometry.spacing == pytest.approx((1.0, 1.0, 3.0))


# --- third-party files -------------------------------------------------------------------------


def read_series(pattern: str | Path) -> list[pydicom.Dataset]:
    return [pydicom.dcmread(path) for path in sorted(glob.glob(str(pattern)))]


def test_dicomrttool_counts() -> None:
    folder = shared("DicomRTTool/AnonDICOM")
    dataset = pydicom.dcmread(next(folder.glob("RS.*.dcm")))
    labelmap = rtstruct_to_labelmap(dataset, read_series(folder / "CT.*.dcm"), ALL, SETTINGS)
    labels = {s.label: s.number for s in labelmap.segments}
    body = labelmap.mask(labels["BODY"])
    assert body.sum(axis=(1, 2)).tolist() == [41564, 41440, 40701, 40068]
    assert body.sum() == 163773
    assert labelmap.mask(labels["SpinalCord"]).sum() == 654


def test_rt_utils_mock_frame_of_reference_policy() -> None:
    folder = shared("rt-utils/mock_data")
    dataset = pydicom.dcmread(folder / "rt.dcm")
    labelmap = rtstruct_to_labelmap(dataset, read_series(folder / "ct_*.dcm"), ALL, SETTINGS)
    assert labelmap.mask(1).sum() == 1443
    assert labelmap.segments[0].attributes["Warnings"]


def test_pydicom_rtstruct_point_rois_are_skipped() -> None:
    dataset = pydicom.dcmread(shared("pydicom/rtstruct.dcm"), force=True)
    labelmap = rtstruct_to_labelmap(
        dataset, None, LabelMapOptions(spacing=(0.7, 0.7, 10.0)), SETTINGS
    )
    assert [s.number for s in labelmap.segments] == [1]
    assert [s.number for s in describe_rtstruct(dataset).skipped] == [2, 3]
    # A 400 x 300 mm rectangle on 0.7 mm: 571 x 429 centres strictly inside, on 3 planes.
    assert labelmap.mask(1).sum(axis=(1, 2)).tolist() == [0, 571 * 429, 571 * 429, 571 * 429, 0]


def test_demo_rtstruct_reproduces_the_demo_masks(demo_study) -> None:
    labelmap = rtstruct_to_labelmap(demo_study.rtstruct, demo_study.images[::-1], ALL, SETTINGS)
    for number, mask in demo_study.masks.items():
        np.testing.assert_array_equal(labelmap.mask(number), mask)
