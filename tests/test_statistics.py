"""Per-segment statistics of the pure core: known answers on synthetic shapes, and MIRP (the
IBSI-compliant toolkit that made the IBSI reference masks) on the IBSI phantom and validation
cases."""

from __future__ import annotations

import csv
import io
import json
import logging
from functools import cache
from pathlib import Path
from typing import Any

import nibabel as nib
import numpy as np
import pydicom
import pytest
from skimage.measure import marching_cubes, mesh_surface_area

from segmesh.errors import BadRequestError, UnprocessableError
from segmesh.geometry import VolumeGeometry
from segmesh.images.image_volume import image_volume
from segmesh.labelmap import LabelMap, Segment
from segmesh.options import LabelMapOptions
from segmesh.rtstruct import rtstruct_to_labelmap
from segmesh.settings import Settings
from segmesh.statistics import (
    CSV_COLUMNS,
    SegmentStatistics,
    segment_statistics,
    statistics_csv,
    statistics_json,
)
from tests.testdata import testdata as shared


def present(values: np.ndarray | None) -> np.ndarray:
    assert values is not None
    return values


def geometry(shape, affine=None, positions=None) -> VolumeGeometry:
    affine = np.eye(4) if affine is None else np.asarray(affine, dtype=float)
    if positions is None:
        positions = np.array([affine[:3, 3] + k * affine[:3, 2] for k in range(shape[0])])
    return VolumeGeometry(tuple(shape), affine, "1.2.3", np.asarray(positions, dtype=float))


def labelmap(volume: np.ndarray, geo: VolumeGeometry, numbers=(1,)) -> LabelMap:
    segments = tuple(Segment(n, f"S{n}", (255, 0, 0)) for n in numbers)
    return LabelMap(volume.astype(np.uint8)[np.newaxis], geo, segments)


def diagonal(spacing_ijk, origin=(0.0, 0.0, 0.0)) -> np.ndarray:
    affine = np.diag([*spacing_ijk, 1.0])
    affine[:3, 3] = origin
    return affine


def ball(shape, centre_kji, radius_kji) -> np.ndarray:
    k, j, i = np.ogrid[: shape[0], : shape[1], : shape[2]]
    c, r = centre_kji, radius_kji
    return ((k - c[0]) / r[0]) ** 2 + ((j - c[1]) / r[1]) ** 2 + ((i - c[2]) / r[2]) ** 2 <= 1


# --- known answers -----------------------------------------------------------------------------


def test_box_exact_volume_centroid_bounds_extent() -> None:
    volume = np.zeros((10, 20, 30), np.uint8)
    volume[2:5, 3:9, 4:14] = 1  # 3 slices, 6 rows, 10 columns
    affine = diagonal((0.5, 0.8, 2.0), origin=(-10.0, 20.0, 5.0))
    [s] = segment_statistics(labelmap(volume, geometry(volume.shape, affine)))
    assert s.voxels == 180
    assert s.volume_ml == pytest.approx(180 * 0.5 * 0.8 * 2.0 / 1000)
    # Centres: i 4..13, j 3..8, k 2..4.
    np.testing.assert_allclose(
        present(s.centroid_lps), [-10 + 8.5 * 0.5, 20 + 5.5 * 0.8, 5 + 3 * 2.0]
    )
    np.testing.assert_allclose(
        present(s.bounds_lps), [[-10 + 2.0, 20 + 2.4, 5 + 4.0], [-10 + 6.5, 20 + 6.4, 5 + 8.0]]
    )
    np.testing.assert_allclose(s.extent_mm, [10 * 0.5, 6 * 0.8, 3 * 2.0])
    # The padded marching-cubes surface of a box lies on its voxel faces but cuts its edges: a
    # prism of cross-section 1/8 voxel face along each edge (the corners take a little more).
    chamfers = 4 * (3 + 6 + 10) / 8 * 0.5 * 0.8 * 2.0
    assert s.mesh_volume_ml * 1000 == pytest.approx(180 * 0.8 - chamfers, rel=0.02)
    assert s.mesh_volume_ml < s.volume_ml
    assert s.image is None


def test_sphere_mesh_volume_and_area_near_analytic() -> None:
    radius = 20.0
    shape = (50, 50, 50)
    volume = ball(shape, (25, 25, 25), (radius, radius, radius))
    [s] = segment_statistics(labelmap(volume, geometry(shape)))
    assert s.mesh_volume_ml * 1000 == pytest.approx(4 / 3 * np.pi * radius**3, rel=0.02)
    # Unsmoothed marching cubes on a binary mask overestimates a sphere's area by about 8%
    # (its facets follow the voxel staircase); MIRP and the IBSI share that definition.
    assert 1.05 < s.surface_area_mm2 / (4 * np.pi * radius**2) < 1.10
    assert s.volume_ml * 1000 == pytest.approx(4 / 3 * np.pi * radius**3, rel=0.01)
    np.testing.assert_allclose(present(s.centroid_lps), [25, 25, 25], atol=1e-9)


def test_anisotropic_spacing_ellipsoid_in_millimetres() -> None:
    # A 16 mm ball sampled at 0.5 x 0.8 x 2.0 mm (i, j, k).
    spacing = np.array([0.5, 0.8, 2.0])
    radius_mm = 16.0
    shape = (24, 50, 80)
    centre = (12, 25, 40)
    volume = ball(shape, centre, radius_mm / spacing[::-1])
    [s] = segment_statistics(labelmap(volume, geometry(shape, diagonal(spacing))))
    analytic = 4 / 3 * np.pi * radius_mm**3
    assert s.volume_ml * 1000 == pytest.approx(analytic, rel=0.02)
    assert s.mesh_volume_ml * 1000 == pytest.approx(analytic, rel=0.03)
    # Two-millimetre slices make a coarser staircase than the isotropic sphere's.
    assert 1.0 < s.surface_area_mm2 / (4 * np.pi * radius_mm**2) < 1.2
    # The same surface as MIRP builds it: skimage's own spacing and area on the padded mask.
    vertices, faces, _, _ = marching_cubes(
        np.pad(volume, 1).astype(float), 0.5, spacing=spacing[::-1]
    )
    assert s.surface_area_mm2 == pytest.approx(mesh_surface_area(vertices, faces), rel=1e-9)
    np.testing.assert_allclose(present(s.centroid_lps), np.array(centre[::-1]) * spacing, atol=1e-9)
    # Edge to edge: the centres within the radius along each axis, one voxel each.
    np.testing.assert_allclose(s.extent_mm, (2 * np.floor(radius_mm / spacing) + 1) * spacing)


def test_oblique_affine_gives_the_same_figures_rotated() -> None:
    volume = np.zeros((12, 16, 20), np.uint8)
    volume[2:9, 4:10, 3:17] = 1
    volume[5, 5, 16] = 0  # not a box: the bounds must come from the voxels themselves
    volume[8, 9, 3] = 0
    spacing = diagonal((0.7, 0.9, 2.5))
    angle = np.deg2rad(30)
    rotation = np.eye(4)
    rotation[:3, :3] = [
        [np.cos(angle), -np.sin(angle), 0],
        [np.sin(angle) * 0.6, np.cos(angle) * 0.6, 0.8],
        [-np.sin(angle) * 0.8, -np.cos(angle) * 0.8, 0.6],
    ]
    rotation[:3, 3] = [12.0, -40.0, 100.0]
    oblique = rotation @ spacing
    [straight] = segment_statistics(labelmap(volume, geometry(volume.shape, spacing)))
    [turned] = segment_statistics(labelmap(volume, geometry(volume.shape, oblique)))
    assert turned.voxels == straight.voxels
    assert turned.volume_ml == pytest.approx(straight.volume_ml)
    assert turned.mesh_volume_ml == pytest.approx(straight.mesh_volume_ml)
    assert turned.surface_area_mm2 == pytest.approx(straight.surface_area_mm2)
    np.testing.assert_allclose(turned.extent_mm, straight.extent_mm)
    assert straight.centroid_lps is not None
    np.testing.assert_allclose(
        present(turned.centroid_lps), (rotation @ np.r_[straight.centroid_lps, 1])[:3], atol=1e-9
    )
    # Bounds: brute force over every voxel centre.
    kji = np.argwhere(volume)
    points = (oblique @ np.c_[kji[:, ::-1], np.ones(len(kji))].T).T[:, :3]
    np.testing.assert_allclose(
        present(turned.bounds_lps), [points.min(0), points.max(0)], atol=1e-9
    )


def test_uneven_slices_follow_slice_positions() -> None:
    shape = (4, 5, 6)
    z = np.array([0.0, 1.0, 2.0, 5.0])
    affine = diagonal((1.0, 1.0, 5.0 / 3))
    geo = geometry(shape, affine, positions=np.c_[np.zeros(4), np.zeros(4), z])
    volume = np.zeros(shape, np.uint8)
    volume[2:4, 1:3, 1:4] = 1  # 6 voxels on z = 2 and 6 on z = 5
    [s] = segment_statistics(labelmap(volume, geo))
    assert s.centroid_lps is not None
    assert s.centroid_lps[2] == pytest.approx(3.5)
    assert s.bounds_lps is not None
    np.testing.assert_allclose(present(s.bounds_lps)[:, 2], [2.0, 5.0])
    assert s.extent_mm[2] == pytest.approx(3.0 + 5.0 / 3)


def test_image_figures_several_segments_and_layers() -> None:
    rng = np.random.default_rng(3)
    shape = (20, 30, 40)
    image = rng.normal(40, 30, size=shape).round().astype(np.int16)
    first = np.zeros(shape, np.uint8)
    first[ball(shape, (10, 10, 10), (6, 6, 6))] = 1
    first[ball(shape, (10, 20, 30), (5, 7, 9))] = 2
    second = np.zeros(shape, np.uint8)
    second[3:15, 5:25, 8:30] = 3  # overlaps both, in a second layer
    segments = (Segment(1, "A", (1, 2, 3)), Segment(2, "B", (1, 2, 3)),
                Segment(3, "C", (1, 2, 3), layer=1), Segment(4, "Empty", (1, 2, 3)))  # fmt: skip
    lm = LabelMap(np.stack([first, second]), geometry(shape), segments)
    stats = segment_statistics(lm, image=image)
    assert [s.number for s in stats] == [1, 2, 3, 4]
    for s, mask in zip(stats[:3], (first == 1, first == 2, second == 3), strict=True):
        values = image[mask].astype(np.float64)
        assert s.voxels == mask.sum()
        assert s.image is not None
        assert s.image.mean == pytest.approx(values.mean(), rel=1e-12)
        assert s.image.std == pytest.approx(values.std(ddof=0), rel=1e-12)
        assert (s.image.min, s.image.max) == (values.min(), values.max())
        p5, median, p95 = np.percentile(values, [5, 50, 95])
        assert (s.image.p5, s.image.median, s.image.p95) == pytest.approx((p5, median, p95))
    empty = stats[3]
    assert (empty.voxels, empty.volume_ml, empty.mesh_volume_ml) == (0, 0.0, 0.0)
    assert empty.centroid_lps is None
    assert empty.image is None
    assert [s.number for s in segment_statistics(lm, [3, 1])] == [1, 3]
    with pytest.raises(BadRequestError):
        segment_statistics(lm, [9])
    with pytest.raises(UnprocessableError):
        segment_statistics(lm, image=image[:-1])


def test_json_and_csv_renderings_agree() -> None:
    volume = np.zeros((6, 8, 10), np.uint8)
    volume[1:4, 2:6, 3:8] = 1
    lm = LabelMap(
        volume[np.newaxis],
        geometry(volume.shape, diagonal((0.3, 0.3, 1.25))),
        (Segment(1, 'Liver, "left"', (1, 2, 3)), Segment(2, "Empty", (1, 2, 3))),
    )
    image = np.arange(volume.size, dtype=np.float32).reshape(volume.shape) / 7
    stats = segment_statistics(lm, image=image)
    document = json.loads(json.dumps(statistics_json(stats)))
    first, empty = document["Segments"]
    assert first["Label"] == 'Liver, "left"'
    assert first["Voxels"] == 60
    assert first["VolumeMl"] == pytest.approx(60 * 0.3 * 0.3 * 1.25 / 1000, rel=1e-6)
    assert first["ExtentMm"] == pytest.approx([1.5, 1.2, 3.75])
    assert len(first["BoundsLps"]) == 2
    assert set(first["Image"]) == {"Mean", "Std", "Min", "P5", "Median", "P95", "Max"}
    assert empty["CentroidLps"] is None
    assert empty["Image"] is None
    rows = list(csv.DictReader(io.StringIO(statistics_csv(stats))))
    assert tuple(rows[0]) == CSV_COLUMNS
    assert rows[0]["Label"] == 'Liver, "left"'
    assert float(rows[0]["CentroidLps_y"]) == first["CentroidLps"][1]
    assert float(rows[0]["BoundsLps_max_z"]) == first["BoundsLps"][1][2]
    assert float(rows[0]["ExtentMm_along_slices"]) == first["ExtentMm"][2]
    assert float(rows[0]["Image_P95"]) == first["Image"]["P95"]
    assert rows[1]["CentroidLps_x"] == ""
    assert rows[1]["Image_Mean"] == ""


# --- against MIRP on the IBSI data ---------------------------------------------------------------

PHANTOM = "ibsi/ibsi_1_ct_radiomics_phantom"
CASES = {
    "phantom": (f"{PHANTOM}/dicom", f"{PHANTOM}/nifti/mask/mask.nii.gz"),
    **{
        f"{patient}-{modality}": (
            f"ibsi/ibsi_validation/dicom/{patient}/{modality}",
            f"ibsi/ibsi_validation/nifti/{patient}/{modality}_mask.nii.gz",
        )
        for patient in ("STS_002", "STS_042")
        for modality in ("CT", "MR_T1", "PET")
    },
}


def read_folder(folder: Path) -> list[pydicom.Dataset]:
    return [pydicom.dcmread(path) for path in sorted(folder.glob("*.dcm"))]


@cache
def segmesh_case(case: str) -> tuple[list[SegmentStatistics], int]:
    """segmesh's statistics of the case's RT-STRUCT on its images, and the NIfTI reference
    mask's voxel count."""
    folder = shared(CASES[case][0])
    images = read_folder(folder / "image")
    [rtstruct] = read_folder(folder / "mask")
    lm = rtstruct_to_labelmap(rtstruct, images, LabelMapOptions(), Settings())
    stats = segment_statistics(lm, image=image_volume(images, lm.geometry))
    reference = np.asanyarray(nib.load(shared(CASES[case][1])).dataobj)  # type: ignore[attr-defined]
    return stats, int(np.count_nonzero(reference))


@cache
def mirp_case(case: str) -> dict[str, Any]:
    """MIRP 2.7's morphology and statistics features of the case's images within the IBSI
    reference mask (the voxels segmesh fills from the RT-STRUCT, as the test above checks;
    MIRP 2.7's own filling of the MR and PET RT-STRUCTs leaves out 0.3-8% of them): no
    interpolation, no resegmentation, PET in its stored units (no SUV conversion)."""
    mirp = pytest.importorskip("mirp", reason="MIRP (the test extra) is not installed")
    folder = shared(CASES[case][0])
    logging.getLogger("mirp").setLevel(logging.ERROR)
    tables = mirp.extract_features(
        image=str(folder / "image"),
        mask=str(shared(CASES[case][1])),
        base_feature_families=["morphology", "statistics"],
        stat_percentile=[5.0, 95.0],
        pet_suv_conversion="none",
    )
    [table] = tables
    [row] = [row.to_dict() for _, row in table.iterrows()]
    return row


@pytest.mark.parametrize("case", list(CASES))
def test_voxels_equal_the_ibsi_reference_mask(case: str) -> None:
    stats, reference_voxels = segmesh_case(case)
    [s] = stats
    assert s.voxels == reference_voxels


@pytest.mark.parametrize("case", list(CASES))
def test_against_mirp(case: str) -> None:
    stats, _ = segmesh_case(case)
    row = mirp_case(case)
    [s] = stats
    voxel_mm3 = row["image_voxel_size_x"] * row["image_voxel_size_y"] * row["image_voxel_size_z"]
    assert s.voxels == round(row["morph_vol_approx"] / voxel_mm3)
    # MIRP's voxel size carries a few digits less than the DICOM attributes (STS_002 MR: 1.5e-6).
    assert s.volume_ml * 1000 == pytest.approx(row["morph_vol_approx"], rel=1e-5)
    assert s.mesh_volume_ml * 1000 == pytest.approx(row["morph_volume"], rel=0.01)
    assert s.surface_area_mm2 == pytest.approx(row["morph_area_mesh"], rel=0.01)
    assert s.image is not None
    image = s.image
    ours = {
        "stat_mean": image.mean,
        "stat_var": image.std**2,
        "stat_min": image.min,
        "stat_max": image.max,
        "stat_median": image.median,
        "stat_p5": image.p5,
        "stat_p95": image.p95,
    }
    for name, value in ours.items():
        assert value == pytest.approx(row[name], rel=1e-6, abs=1e-9), name
