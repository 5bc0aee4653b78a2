"""Unit tests of segmesh.mesh.preparation (preparation for printing) and of its parsing: shapes
whose answers are known (a hollow sphere's wall and volume, a sealed cavity filled, a drain
hole, a flat base, a scaled model's bounds, the largest bodies, a triangle count)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import trimesh
from pydicom.dataset import Dataset
from scipy import ndimage

from segmesh.errors import BadRequestError, UnprocessableError
from segmesh.geometry import VolumeGeometry
from segmesh.labelmap import Segment
from segmesh.mesh import Mesh, MeshOptions, SegmentCrop, Smoothing
from segmesh.mesh.preparation import (
    AXES,
    Base,
    Hollow,
    Preparation,
    Scale,
    cut_base,
    filled,
    within_distance_of_outside,
)
from segmesh.models import ModelRequest, ModelSource
from segmesh.requests.mesh_fields import mesh_options, mesh_options_of_query

SEGMENT = Segment(1, "Part", (200, 180, 120))


def grid(shape, spacing=(1.0, 1.0, 1.0), origin=(-40.0, -40.0, -40.0)) -> VolumeGeometry:
    """An axial grid: ``spacing`` (i, j, k) mm; +i is L, +j is P, +k is S."""
    affine = np.eye(4)
    affine[:3, :3] = np.diag(spacing)
    affine[:3, 3] = origin
    k = np.arange(shape[0], dtype=np.float64)[:, None]
    return VolumeGeometry(shape, affine, "1.2.3", affine[:3, 3] + k * affine[:3, 2])


def ball(shape, geometry: VolumeGeometry, centre, radius: float) -> np.ndarray:
    """Voxels whose centre lies within ``radius`` mm of ``centre`` (LPS)."""
    k, j, i = np.indices(shape)
    lps = geometry.index_to_lps(np.stack([i.ravel(), j.ravel(), k.ravel()], axis=1))
    return (np.linalg.norm(lps - np.asarray(centre), axis=1) <= radius).reshape(shape)


def raw(preparation: Preparation) -> MeshOptions:
    """No smoothing: the meshes are the voxels' own surfaces."""
    return MeshOptions(smoothing=Smoothing.NONE, iterations=0, preparation=preparation)


def meshed(mask: np.ndarray, geometry: VolumeGeometry, options: MeshOptions) -> Mesh:
    mesh = SegmentCrop(SEGMENT, mask, (0, 0, 0)).mesh(geometry, options)
    assert mesh is not None
    return mesh


def closed(mesh) -> trimesh.Trimesh:
    assert mesh is not None
    tm = trimesh.Trimesh(mesh.vertices, mesh.faces, process=True)
    assert tm.is_watertight
    assert tm.is_winding_consistent
    assert tm.volume > 0
    return tm


def test_hollow_sphere_wall_and_volume() -> None:
    geometry = grid((48, 48, 48))
    mask = ball((48, 48, 48), geometry, (-16.5, -16.5, -16.5), 20.0)
    options = MeshOptions(preparation=Preparation(hollow=Hollow(3.0)))
    mesh = meshed(mask, geometry, options)
    expected = 4.0 / 3.0 * math.pi * (20.0**3 - 17.0**3)
    assert mesh.volume == pytest.approx(expected, rel=0.04)
    tm = closed(mesh)
    bodies = tm.split(only_watertight=False)
    assert len(bodies) == 2  # the outer surface and the cavity's, inward
    radii = sorted(np.linalg.norm(b.vertices - (-16.5), axis=1).mean() for b in bodies)
    assert radii[1] - radii[0] == pytest.approx(3.0, abs=0.5)


def test_hollow_anisotropic_voxels_keep_the_wall_in_mm() -> None:
    geometry = grid((24, 48, 48), spacing=(1.0, 1.0, 2.0))
    mask = ball((24, 48, 48), geometry, (-16.5, -16.5, -17.0), 20.0)
    shell, start = Preparation(hollow=Hollow(4.0)).voxels(mask, (0, 0, 0), geometry)
    cavity = np.pad(mask, 1) & ~shell
    lps = geometry.index_to_lps((np.argwhere(cavity) + start)[:, ::-1])
    # The cavity reaches to within a voxel of 16 mm from the centre, along 2 mm slices too.
    offsets = lps - (-16.5, -16.5, -17.0)
    assert np.linalg.norm(offsets, axis=1).max() == pytest.approx(16.0, abs=1.0)
    assert np.abs(offsets[:, 2]).max() == pytest.approx(16.0, abs=2.0)
    assert np.abs(offsets[:, 0]).max() == pytest.approx(16.0, abs=1.0)


def test_slabs_of_the_distance_transform_agree_with_one_pass() -> None:
    rng = np.random.default_rng(3)
    mask = np.pad(ndimage.binary_opening(rng.random((150, 30, 30)) > 0.3), 1)
    one_pass = ndimage.distance_transform_edt(mask, sampling=(1.5, 1.0, 0.8)) <= 2.5
    assert np.array_equal(within_distance_of_outside(mask, (1.5, 1.0, 0.8), 2.5), one_pass)


def test_sealed_cavity_filled_to_the_full_cube() -> None:
    geometry = grid((20, 20, 20))
    mask = np.zeros((20, 20, 20), dtype=bool)
    mask[2:18, 2:18, 2:18] = True
    mask[6:14, 6:14, 6:14] = False  # sealed inside
    plain = meshed(mask, geometry, raw(Preparation()))
    full = meshed(mask, geometry, raw(Preparation(fill_cavities=True)))
    assert plain.volume < full.volume
    solid = np.zeros_like(mask)
    solid[2:18, 2:18, 2:18] = True
    expected = meshed(solid, geometry, raw(Preparation()))
    assert full.volume == pytest.approx(expected.volume, rel=1e-9)
    assert len(closed(full).split(only_watertight=False)) == 1


def test_background_touching_the_box_is_outside() -> None:
    # A cup open at the top face of its box: no cavity; the crop is the cup's own box.
    mask = np.ones((10, 10, 10), dtype=bool)
    mask[3:, 3:7, 3:7] = False
    assert np.array_equal(filled(np.pad(mask, 1))[1:-1, 1:-1, 1:-1], mask)


def test_drain_hole_opens_the_cavity_at_the_lowest_point() -> None:
    geometry = grid((48, 48, 48))
    mask = ball((48, 48, 48), geometry, (-16.5, -16.5, -16.5), 20.0)
    closed_shell, _ = Preparation(hollow=Hollow(3.0)).voxels(mask, (0, 0, 0), geometry)
    drained, start = Preparation(hollow=Hollow(3.0, 5.0)).voxels(mask, (0, 0, 0), geometry)
    assert ndimage.label(~closed_shell)[1] == 2
    assert ndimage.label(~drained)[1] == 1  # the cavity is open to the outside
    removed = np.argwhere(closed_shell & ~drained) + start
    lps = geometry.index_to_lps(removed[:, ::-1])
    # Only at the inferior pole, within the drain's radius of the vertical axis.
    assert lps[:, 2].max() < -16.5 - 15.0
    assert np.linalg.norm(lps[:, :2] - (-16.5, -16.5), axis=1).max() <= 2.5 + 1e-9


def test_drain_follows_the_base_side() -> None:
    geometry = grid((48, 48, 48))
    mask = ball((48, 48, 48), geometry, (-16.5, -16.5, -16.5), 20.0)
    base = Base(AXES["L"], axis="L")
    drained, start = Preparation(hollow=Hollow(3.0, 4.0), base=base).voxels(
        mask, (0, 0, 0), geometry
    )
    shell, _ = Preparation(hollow=Hollow(3.0)).voxels(mask, (0, 0, 0), geometry)
    removed = geometry.index_to_lps((np.argwhere(shell & ~drained) + start)[:, ::-1])
    assert removed[:, 0].min() > -16.5 + 15.0  # at the left pole (+x in LPS)


def test_keep_largest_bodies() -> None:
    geometry = grid((20, 20, 40))
    mask = np.zeros((20, 20, 40), dtype=bool)
    mask[2:8, 2:8, 2:8] = True  # 216
    mask[2:6, 2:6, 12:16] = True  # 64
    mask[2:10, 2:10, 20:28] = True  # 512
    mask[2:4, 2:4, 32:34] = True  # 8
    for count, voxels in ((1, 512), (2, 512 + 216), (3, 512 + 216 + 64), (9, 800)):
        mesh = meshed(mask, geometry, raw(Preparation(keep_largest=count)))
        bodies = closed(mesh).split(only_watertight=False)
        assert len(bodies) == min(count, 4)
        # Each cube's surface cuts its corners and edges: volume n^3 - ... per body, so
        # compare the kept cubes' sizes instead.
        sizes = sorted(round(float(np.ptp(b.vertices[:, 0]))) for b in bodies)
        assert sum(s**3 for s in sizes) == voxels
    assert mask.sum() == 800  # the crop is not changed


def test_target_triangles_within_five_percent() -> None:
    geometry = grid((48, 48, 48))
    mask = ball((48, 48, 48), geometry, (-16.5, -16.5, -16.5), 20.0)
    mesh = meshed(mask, geometry, MeshOptions(preparation=Preparation(target_triangles=3000)))
    assert mesh.triangle_count == pytest.approx(3000, rel=0.05)
    closed(mesh)


def cap_faces(mesh, normal, offset):
    on_plane = np.abs(mesh.vertices @ np.asarray(normal) - offset) < 1e-6
    return on_plane[mesh.faces].all(axis=1)


def test_base_axis_cut_is_flat_with_the_cap_of_the_section() -> None:
    geometry = grid((20, 20, 20))
    mask = np.zeros((20, 20, 20), dtype=bool)
    mask[2:18, 4:16, 5:15] = True  # 10 (i) x 12 (j) x 16 (k) voxels of 1 mm
    mesh = meshed(mask, geometry, raw(Preparation(base=Base(AXES["I"], axis="I", offset_mm=4.0))))
    low_before = -40.0 + 2 - 0.5
    plane = low_before + 4.0
    assert mesh.vertices[:, 2].min() == pytest.approx(plane, abs=1e-6)
    below = mesh.vertices[:, 2] < plane + 1e-3
    assert np.abs(mesh.vertices[below, 2] - plane).max() < 1e-6  # every vertex there on it
    cap = cap_faces(mesh, (0, 0, -1), -plane)
    areas = np.linalg.norm(
        np.cross(
            mesh.vertices[mesh.faces[cap, 1]] - mesh.vertices[mesh.faces[cap, 0]],
            mesh.vertices[mesh.faces[cap, 2]] - mesh.vertices[mesh.faces[cap, 0]],
        ),
        axis=1,
    )
    # The section of marching cubes' box: the rectangle less its four chamfered corners.
    assert 0.5 * areas.sum() == pytest.approx(10 * 12 - 4 * 0.125, rel=1e-6)
    tm = closed(mesh)
    assert tm.bounds[1, 2] == pytest.approx(-40.0 + 17 + 0.5)


def test_base_plane_in_patient_coordinates() -> None:
    geometry = grid((48, 48, 48))
    mask = ball((48, 48, 48), geometry, (-16.5, -16.5, -16.5), 20.0)
    normal = np.array([1.0, 0.0, -1.0]) / math.sqrt(2.0)
    point = (-16.5 + 5.0, -16.5, -16.5 - 5.0)
    base = Base(tuple(normal), point=point)
    mesh = meshed(mask, geometry, MeshOptions(preparation=Preparation(base=base)))
    offset = float(np.dot(point, normal))
    heights = mesh.vertices @ normal
    assert heights.max() == pytest.approx(offset, abs=1e-6)
    assert np.abs(heights[heights > offset - 1e-3] - offset).max() < 1e-6
    # The cap: a disc of radius sqrt(r^2 - d^2) (d = 7.07 mm from the centre), within the
    # polygon's shortfall.
    disc = math.pi * (20.0**2 - 50.0)
    cap = cap_faces(mesh, normal, offset)
    a, b, c = (mesh.vertices[mesh.faces[cap, n]] for n in range(3))
    assert 0.5 * np.linalg.norm(np.cross(b - a, c - a), axis=1).sum() == pytest.approx(
        disc, rel=0.03
    )
    closed(mesh)


def test_base_removing_everything_is_422() -> None:
    geometry = grid((10, 10, 10))
    mask = np.zeros((10, 10, 10), dtype=bool)
    mask[2:8, 2:8, 2:8] = True
    mesh = meshed(mask, geometry, raw(Preparation()))
    with pytest.raises(UnprocessableError):
        cut_base(mesh, Base(AXES["I"], point=(0.0, 0.0, 100.0)))


@pytest.mark.parametrize("scale", [Scale(factor=2.5), Scale(size_mm=150.0)])
def test_scaled_bounds(scale: Scale) -> None:
    geometry = grid((20, 20, 20))
    mask = np.zeros((20, 20, 20), dtype=bool)
    mask[2:18, 4:16, 5:15] = True
    plain = meshed(mask, geometry, raw(Preparation()))
    big = meshed(mask, geometry, raw(Preparation(scale=scale)))
    extent, scaled_extent = np.ptp(plain.bounds, axis=0), np.ptp(big.bounds, axis=0)
    factor = 2.5 if scale.factor else 150.0 / extent.max()
    assert scaled_extent == pytest.approx(extent * factor, rel=1e-9)
    assert scaled_extent.max() == pytest.approx(16.0 * factor)
    assert big.bounds.mean(axis=0) == pytest.approx(plain.bounds.mean(axis=0))
    assert big.volume == pytest.approx(plain.volume * factor**3, rel=1e-9)


def test_to_json_records_each_option_and_leaves_defaults_out() -> None:
    assert MeshOptions().to_json() == {
        "Smoothing": "taubin",
        "Iterations": 20,
        "Decimate": 0.0,
        **MeshOptions().sampling.to_json(),
    }
    options = mesh_options(
        {
            "FillCavities": True,
            "Hollow": {"WallMm": 3, "DrainMm": 5},
            "KeepLargest": 2,
            "TargetTriangles": 5000,
            "Base": {"Axis": "i", "OffsetMm": 2},
            "Scale": {"SizeMm": 150},
        }
    )
    recorded = options.to_json()
    assert recorded["FillCavities"] is True
    assert recorded["Hollow"] == {"WallMm": 3.0, "DrainMm": 5.0}
    assert recorded["KeepLargest"] == 2
    assert recorded["TargetTriangles"] == 5000
    assert recorded["Base"] == {"Axis": "I", "OffsetMm": 2.0}
    assert recorded["Scale"] == {"SizeMm": 150.0}
    plane = mesh_options({"Base": {"Point": [1, 2, 3], "Normal": [0, 0, -2]}}).to_json()
    assert plane["Base"] == {"Point": [1.0, 2.0, 3.0], "Normal": [0.0, 0.0, -1.0]}


def test_query_forms_mean_the_body_forms() -> None:
    query = mesh_options_of_query(
        {
            "fill-cavities": "true",
            "hollow-wall-mm": "3",
            "drain-mm": "5",
            "keep-largest": "2",
            "base-axis": "I",
            "base-offset-mm": "2",
            "size-mm": "150",
            "target-triangles": "5000",
        }
    )
    body = mesh_options(
        {
            "FillCavities": True,
            "Hollow": {"WallMm": 3, "DrainMm": 5},
            "KeepLargest": 2,
            "Base": {"Axis": "I", "OffsetMm": 2},
            "Scale": {"SizeMm": 150},
            "TargetTriangles": 5000,
        }
    )
    assert query == body
    assert mesh_options_of_query({"scale": "2"}).preparation.scale == Scale(factor=2.0)
    plane = mesh_options_of_query({"base-point": "1,2,3", "base-normal": "0,0,-1"})
    assert plane.preparation.base == Base((0.0, 0.0, -1.0), point=(1.0, 2.0, 3.0))


@pytest.mark.parametrize(
    "body",
    [
        {"FillCavities": "yes"},
        {"Hollow": 3},
        {"Hollow": {"DrainMm": 5}},
        {"Hollow": {"WallMm": 0}},
        {"Hollow": {"WallMm": 3, "Drain": 5}},
        {"KeepLargest": 0},
        {"KeepLargest": 1.5},
        {"KeepLargest": True},
        {"TargetTriangles": 2},
        {"TargetTriangles": 1000, "Decimate": 0.5},
        {"Base": {"Axis": "Up"}},
        {"Base": {"Axis": "I", "Point": [0, 0, 0]}},
        {"Base": {"Point": [0, 0, 0], "Normal": [0, 0, 0]}},
        {"Base": {"Point": [0, 0], "Normal": [0, 0, 1]}},
        {"Base": {"Axis": "I", "OffsetMm": -1}},
        {"Scale": {"Factor": 2, "SizeMm": 100}},
        {"Scale": {"Factor": -2}},
        {"Scale": 2},
    ],
)
def test_bad_bodies_are_400(body) -> None:
    with pytest.raises(BadRequestError):
        mesh_options(body)


@pytest.mark.parametrize(
    "query",
    [
        {"fill-cavities": "maybe"},
        {"hollow-wall-mm": "thick"},
        {"drain-mm": "5"},
        {"keep-largest": "0"},
        {"target-triangles": "1.5"},
        {"target-triangles": "100", "decimate": "0.5"},
        {"base-axis": "Q"},
        {"base-offset-mm": "2"},
        {"base-point": "1,2,3"},
        {"base-point": "1,2", "base-normal": "0,0,1"},
        {"scale": "0"},
        {"scale": "2", "size-mm": "100"},
    ],
)
def test_bad_queries_are_400(query) -> None:
    with pytest.raises(BadRequestError):
        mesh_options_of_query(query)


def test_a_scaled_request_says_so_with_its_own_frame_of_reference() -> None:
    study = Dataset()
    study.PatientName, study.PatientID, study.StudyInstanceUID = "P", "1", "1.2.3.4"
    source = ModelSource(study, "1.2.3.9", "key")
    plain = ModelRequest(source, {}, "Models of a SEG")
    scaled = ModelRequest(source, {}, "Models of a SEG", scale_note=Scale(factor=2).note)
    assert plain.frame_of_reference_uid == "1.2.3.9"
    assert plain.described("Liver") == "Liver"
    assert scaled.frame_of_reference_uid not in ("", "1.2.3.9")
    again = ModelRequest(source, {}, "other", scale_note="Scaled x2")
    assert again.frame_of_reference_uid == scaled.frame_of_reference_uid
    assert scaled.described("Liver") == "Scaled x2: Liver"
    assert len(scaled.described("x" * 80)) == 64
    assert Scale(size_mm=150.0).note == "Scaled to 150 mm"
