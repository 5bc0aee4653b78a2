"""Unit tests of segmesh.mesh: marching cubes in LPS mm, orientation, smoothing, decimation."""

from __future__ import annotations

import numpy as np
import pytest
import trimesh
from scipy import sparse
from skimage.measure import marching_cubes

from segmesh.demo import DemoStudy
from segmesh.errors import BadRequestError
from segmesh.geometry import VolumeGeometry
from segmesh.labelmap import LabelMap, Segment
from segmesh.mesh import (
    Mesh,
    MeshOptions,
    Smoothing,
    build,
    decimate,
    merge,
    segment_meshes,
    smooth,
    surface,
)
from segmesh.mesh.base import paired_edges
from segmesh.mesh.smoothing import _neighbour_average
from segmesh.requests.mesh_fields import mesh_options


def grid(shape, affine) -> VolumeGeometry:
    affine = np.asarray(affine, dtype=np.float64)
    k = np.arange(shape[0], dtype=np.float64)[:, None]
    return VolumeGeometry(shape, affine, "1.2.3", affine[:3, 3] + k * affine[:3, 2])


def voxel_volume_and_centroid(mask, geometry: VolumeGeometry):
    centres = geometry.index_to_lps(np.argwhere(mask)[:, ::-1])
    return mask.sum() * abs(np.linalg.det(geometry.affine[:3, :3])), centres.mean(axis=0)


def l_shape() -> np.ndarray:
    """An asymmetric L: a long bar along i with a short bar along j at its low-i end, on
    slices 2..5 of an (8, 12, 16) grid."""
    mask = np.zeros((8, 12, 16), dtype=bool)
    mask[2:6, 2:4, 2:14] = True  # along i
    mask[2:6, 2:10, 2:4] = True  # along j, at low i
    return mask


def checked(mesh: Mesh | None) -> trimesh.Trimesh:
    assert mesh is not None
    tm = trimesh.Trimesh(mesh.vertices, mesh.faces, process=True)
    assert tm.is_watertight
    assert tm.is_winding_consistent
    assert tm.volume > 0, "normals point inward"
    return tm


@pytest.mark.parametrize(
    "affine",
    [
        # Axial, anisotropic, origin away from zero.
        [[0.9, 0, 0, -70], [0, 1.2, 0, -40], [0, 0, 2.5, 12], [0, 0, 0, 1]],
        # Left-handed (a NIfTI-like flipped axis): must neither mirror nor invert.
        [[-0.9, 0, 0, 70], [0, 1.2, 0, -40], [0, 0, 2.5, 12], [0, 0, 0, 1]],
        # Oblique and sagittal-ish with mixed axes.
        [[0, 0, 2.0, 5], [0.8, 0.3, 0, -3], [0, 1.1, 0.2, 40], [0, 0, 0, 1]],
    ],
)
def test_asymmetric_shape_lands_where_its_voxels_are(affine):
    geometry = grid((8, 12, 16), affine)
    mask = l_shape()
    mesh = build(mask, geometry, MeshOptions(smoothing=Smoothing.NONE))
    checked(mesh)
    assert mesh is not None
    volume, centroid = voxel_volume_and_centroid(mask, geometry)
    # A mirrored mesh would put the short bar at the high-i end: the centroid would move by
    # several voxels along the row direction.
    assert np.linalg.norm(mesh.centroid - centroid) < 0.25 * min(geometry.spacing)
    assert mesh.volume == pytest.approx(volume, rel=0.08)
    # The short bar's far end (high j, low i) is a vertex region of the mesh.
    tip = geometry.index_to_lps([[2.5, 9.5, 3.5]])[0]
    assert np.min(np.linalg.norm(mesh.vertices - tip, axis=1)) < max(geometry.spacing)
    mirrored_tip = geometry.index_to_lps([[13.5, 9.5, 3.5]])[0]
    assert np.min(np.linalg.norm(mesh.vertices - mirrored_tip, axis=1)) > 3 * min(geometry.spacing)


def test_demo_organs_keep_volume_and_centroid_after_default_smoothing(demo_study: DemoStudy):
    geometry = demo_study.geometry
    half_voxel = 0.5 * np.asarray(geometry.spacing)
    for number, mask in demo_study.masks.items():
        mesh = build(mask, geometry, MeshOptions())
        checked(mesh)
        assert mesh is not None
        volume, centroid = voxel_volume_and_centroid(mask, geometry)
        assert abs(mesh.volume / volume - 1.0) < 0.03, number
        assert np.all(np.abs(mesh.centroid - centroid) < half_voxel), number


def test_liver_is_on_the_patients_right(demo_study: DemoStudy):
    mesh = build(demo_study.masks[1], demo_study.geometry, MeshOptions())
    assert mesh is not None
    # LPS: x grows toward the patient's left; the demo liver is centred at x = -30 mm.
    assert mesh.centroid[0] == pytest.approx(-30.0, abs=1.0)
    assert mesh.bounds[1][0] < 0.0


def test_laplacian_shrinks_where_taubin_does_not(demo_study: DemoStudy):
    mask, geometry = demo_study.masks[3], demo_study.geometry  # a small kidney
    volume, _ = voxel_volume_and_centroid(mask, geometry)
    laplacian = build(mask, geometry, MeshOptions(smoothing=Smoothing.LAPLACIAN))
    taubin = build(mask, geometry, MeshOptions(smoothing=Smoothing.TAUBIN))
    assert laplacian is not None
    assert taubin is not None
    assert laplacian.volume < 0.9 * volume
    assert abs(taubin.volume / volume - 1.0) < 0.03


def test_smoothing_and_decimation_leave_their_input_alone(demo_study: DemoStudy):
    raw = build(demo_study.masks[2], demo_study.geometry, MeshOptions(smoothing=Smoothing.NONE))
    assert raw is not None
    before = raw.vertices.copy()
    smoothed = smooth(raw, Smoothing.LAPLACIAN, 10)
    reduced = decimate(raw, 0.5)
    np.testing.assert_array_equal(raw.vertices, before)
    assert not np.allclose(smoothed.vertices, before)
    assert reduced.triangle_count < 0.6 * raw.triangle_count
    assert reduced.volume == pytest.approx(raw.volume, rel=0.03)


def test_segment_touching_the_volume_edge_is_closed(demo_study: DemoStudy):
    # The demo vertebra runs through every slice.
    mask = demo_study.masks[5]
    assert mask[0].any()
    assert mask[-1].any()
    tm = checked(build(mask, demo_study.geometry, MeshOptions()))
    z = demo_study.geometry.slice_positions[:, 2]
    # Closed half a slice beyond the first and last slice centres, not beyond.
    assert tm.bounds[0][2] == pytest.approx(z[0] - 1.25, abs=0.6)
    assert tm.bounds[1][2] == pytest.approx(z[-1] + 1.25, abs=0.6)


def test_non_uniform_slices_place_vertices_on_their_planes():
    positions = np.array([[0, 0, 0], [0, 0, 1.0], [0, 0, 2.0], [0, 0, 6.0], [0, 0, 7.0]])
    affine = np.eye(4)
    affine[:3, 2] = (positions[-1] - positions[0]) / 4
    geometry = VolumeGeometry((5, 6, 6), affine, "1.2.3", positions)
    assert not geometry.is_uniform
    mask = np.zeros((5, 6, 6), dtype=bool)
    mask[1:4, 2:4, 2:4] = True
    mesh = build(mask, geometry, MeshOptions(smoothing=Smoothing.NONE))
    assert mesh is not None
    # Faces between slices 1|2 and 3|4 sit half-way: 1.5 at the bottom... 6.5 at the top.
    assert set(np.round(np.unique(mesh.vertices[:, 2]), 3)) <= {0.5, 1.0, 1.5, 2.0, 4.0, 6.0, 6.5}
    assert mesh.vertices[:, 2].min() == pytest.approx(0.5)
    assert mesh.vertices[:, 2].max() == pytest.approx(6.5)


def labelmap_with(masks: dict[int, np.ndarray], geometry: VolumeGeometry) -> LabelMap:
    layer = np.zeros(geometry.shape, dtype=np.uint8)
    for number, mask in masks.items():
        layer[mask] = number
    segments = tuple(Segment(n, f"S{n}", (255, 0, 0)) for n in (*masks, 9))
    return LabelMap(layer[np.newaxis], geometry, segments)


def test_segment_meshes_reports_empty_and_unknown_segments(demo_study: DemoStudy):
    labelmap = labelmap_with({1: demo_study.masks[1], 2: demo_study.masks[2]}, demo_study.geometry)
    results = list(segment_meshes(labelmap, None, MeshOptions()))
    assert [segment.number for segment, _ in results] == [1, 2, 9]
    assert results[2][1] is None
    one = build(demo_study.masks[2], demo_study.geometry, MeshOptions())
    assert one is not None
    assert results[1][1] is not None
    np.testing.assert_allclose(results[1][1].vertices, one.vertices)
    with pytest.raises(BadRequestError):
        list(segment_meshes(labelmap, [1, 7], MeshOptions()))
    merged = merge([mesh for _, mesh in results if mesh is not None])
    assert merged.volume == pytest.approx(sum(m.volume for _, m in results if m is not None))


def test_empty_mask_has_no_mesh(demo_study: DemoStudy):
    empty = np.zeros(demo_study.geometry.shape, dtype=bool)
    assert build(empty, demo_study.geometry, MeshOptions()) is None


@pytest.mark.parametrize(
    "values",
    [
        {"Smoothing": "cubic"},
        {"Iterations": -1},
        {"Iterations": 2.5},
        {"Iterations": "many"},
        {"Decimate": 1.0},
        {"Decimate": True},
    ],
)
def test_bad_mesh_options_are_400(values):
    with pytest.raises(BadRequestError):
        mesh_options(values)


def test_mesh_options_from_query_strings():
    options = mesh_options({"smoothing": "Laplacian", "iterations": "5", "decimate": "0.25"})
    assert options == MeshOptions(Smoothing.LAPLACIAN, 5, 0.25)


def test_single_voxel_is_a_closed_mesh_at_its_centre():
    geometry = grid((3, 4, 5), [[0.5, 0, 0, 10], [0, 0.7, 0, 20], [0, 0, 3.0, 30], [0, 0, 0, 1]])
    mask = np.zeros(geometry.shape, dtype=bool)
    mask[2, 3, 4] = True  # a corner voxel: touches three faces of the volume
    mesh = build(mask, geometry, MeshOptions())
    checked(mesh)
    assert mesh is not None
    np.testing.assert_allclose(mesh.centroid, [12.0, 22.1, 36.0], atol=1e-3)


@pytest.mark.parametrize("density", [0.2, 0.5, 0.8])
def test_binary_masks_mesh_without_degenerate_faces(density):
    """Marching cubes of a full-grid mask skips the removal of degenerate faces: on noise,
    where Lewiner's ambiguous cases (and the vertex inside a cube) are most common, the mesh
    is the one the removal gives, vertex for vertex, and no face has two corners alike."""
    geometry = grid((14, 13, 12), [[0.7, 0, 0, -5], [0, 0.9, 0, 8], [0, 0, 2.0, 3], [0, 0, 0, 1]])
    mask = np.random.default_rng(7).random(geometry.shape) < density
    mesh = surface(mask, geometry)
    assert mesh is not None
    padded = np.pad(mask, 1).astype(np.float32)
    kji, faces, _, _ = marching_cubes(padded, level=0.5, allow_degenerate=False)
    np.testing.assert_array_equal(mesh.vertices, geometry.index_to_lps((kji - 1.0)[:, ::-1]))
    assert {tuple(sorted(face)) for face in mesh.faces.tolist()} == {
        tuple(sorted(face)) for face in faces.tolist()
    }
    corners = mesh.vertices[mesh.faces]  # (M, 3 corners, 3)
    for first, second in ((0, 1), (1, 2), (0, 2)):
        assert not (corners[:, first] == corners[:, second]).all(axis=1).any()
    tm = trimesh.Trimesh(mesh.vertices, mesh.faces, process=False)
    assert tm.is_winding_consistent
    assert tm.volume > 0


def test_neighbour_matrix_is_that_of_every_directed_edge_of_every_face():
    """Built from three directed edges a face, and its transpose where the edges do not pair:
    the matrix of all six, the same pattern, weights and index order, on closed meshes and on
    arbitrary faces."""
    geometry = grid((9, 10, 11), [[0.7, 0, 0, -5], [0, 0.9, 0, 8], [0, 0, 2.0, 3], [0, 0, 0, 1]])
    closed = surface(np.random.default_rng(5).random(geometry.shape) < 0.4, geometry)
    assert closed is not None
    k, j, i = np.indices(geometry.shape)
    ball = surface((k - 4) ** 2 + (j - 5) ** 2 + (i - 5) ** 2 <= 10, geometry)
    assert ball is not None
    # The ball's edges pair up: its matrix is the directed edges' alone, without the transpose.
    assert paired_edges(ball.faces, len(ball.vertices))
    loose = Mesh(np.zeros((30, 3)), np.random.default_rng(6).integers(0, 30, (50, 3)))
    assert not paired_edges(loose.faces, len(loose.vertices))
    for mesh in (closed, ball, loose):
        f, n = mesh.faces, len(mesh.vertices)
        rows = np.concatenate([f[:, 0], f[:, 1], f[:, 2], f[:, 1], f[:, 2], f[:, 0]])
        columns = np.concatenate([f[:, 1], f[:, 2], f[:, 0], f[:, 0], f[:, 1], f[:, 2]])
        every = sparse.csr_matrix((np.ones(len(rows)), (rows, columns)), shape=(n, n))
        degree = np.diff(every.indptr)
        every.data = np.repeat(1.0 / np.maximum(degree, 1.0), degree)
        built = _neighbour_average(mesh)
        np.testing.assert_array_equal(built.indptr, every.indptr)
        np.testing.assert_array_equal(built.indices, every.indices)
        np.testing.assert_array_equal(built.data, every.data)
