"""The printability report on shapes whose answers are known, the wall estimate from voxels,
and the repair or refusal of a broken model."""

from __future__ import annotations

import manifold3d
import numpy as np
import pytest

from segmesh.errors import UnprocessableError
from segmesh.formats import MeshFormat
from segmesh.formats.mesh_files import binary_stl, read_binary_stl
from segmesh.geometry import VolumeGeometry
from segmesh.labelmap import BoolArray, Segment
from segmesh.mesh import Mesh, MeshOptions, Sampling, SegmentCrop, surface
from segmesh.mesh.preparation import Hollow, Preparation
from segmesh.mesh.printability import (
    _closed,
    _paired_edges,
    _shells,
    checked,
    crops_thinnest_wall,
    printability,
    repaired,
    thinnest_wall,
    welded,
)
from segmesh.work import MeshFile


def grid(shape: tuple[int, int, int], spacing: tuple[float, float, float]) -> VolumeGeometry:
    """A grid of ``spacing`` (x, y, z) mm whose voxel [0, 0, 0] is at (10, -20, 5) mm."""
    affine = np.diag([*spacing, 1.0])
    affine[:3, 3] = (10.0, -20.0, 5.0)
    k = np.arange(shape[0], dtype=np.float64)[:, None]
    return VolumeGeometry(shape, affine, "1.2.3", affine[:3, 3] + k * affine[:3, 2])


def radii(size: int) -> np.ndarray:
    """(size, size, size) distance in voxels of each voxel from the cube's centre."""
    k, j, i = np.mgrid[:size, :size, :size]
    centre = (size - 1) / 2.0
    return np.sqrt((k - centre) ** 2 + (j - centre) ** 2 + (i - centre) ** 2)


def mesh_of(mask: BoolArray, spacing: tuple[float, float, float] = (1.0, 1.0, 1.0)) -> Mesh:
    made = surface(mask, grid(mask.shape, spacing))
    assert made is not None
    return made


def cube_mask() -> BoolArray:
    mask = np.zeros((14, 14, 14), dtype=bool)
    mask[2:12, 2:12, 2:12] = True
    return mask


def test_cube_report() -> None:
    """A 10 mm cube of voxels: closed, manifold, outward, one body; marching cubes cuts its 12
    edges and 8 corners (a 10 mm box less the cut prisms and corners), its box 10 mm a side."""
    report = printability(mesh_of(cube_mask()), 9.5)
    assert (report.closed, report.manifold, report.outward_normals) == (True, True, True)
    assert report.bodies == 1
    # 1000 mm^3 less 12 edge prisms of 10 x (0.5 x 0.5 / 2) mm and the corners' extra cut.
    assert report.volume_ml == pytest.approx(1.0 - 12 * 10 * 0.125 / 1000, abs=0.003)
    as_json = report.to_json()
    assert as_json["BoundsMm"] == {
        "Min": [11.5, -18.5, 6.5],
        "Max": [21.5, -8.5, 16.5],
        "Size": [10.0, 10.0, 10.0],
    }
    assert as_json["ThinnestWallMm"] == 9.5
    assert set(as_json) == {
        "Closed",
        "Manifold",
        "OutwardNormals",
        "Bodies",
        "VolumeMl",
        "AreaCm2",
        "BoundsMm",
        "ThinnestWallMm",
    }


def test_sphere_volume_area_and_wall() -> None:
    """A ball of radius 15 mm at 0.5 mm voxels: its volume and area near a sphere's, and the
    wall its diameter or close to it (not a voxel or two)."""
    mask = radii(64) * 0.5 <= 15.0
    report = printability(mesh_of(mask, (0.5, 0.5, 0.5)), thinnest_wall(mask, (0.5, 0.5, 0.5)))
    assert report.printable
    assert report.bodies == 1
    assert report.volume_ml == pytest.approx(4 / 3 * np.pi * 15**3 / 1000, rel=0.02)
    # Marching cubes' facets on a voxel staircase: an area a few percent above a sphere's.
    assert report.area_cm2 == pytest.approx(4 * np.pi * 15**2 / 100, rel=0.12)
    assert report.thinnest_wall_mm is not None
    assert 0.85 * 30.0 <= report.thinnest_wall_mm <= 31.0


def test_hollow_sphere_is_one_body_with_a_cavity_and_a_3_mm_wall() -> None:
    """Two shells (outside and cavity), one body, normals outward (the cavity's point into it);
    the 3 mm wall found within one voxel (1 mm)."""
    r = radii(40)
    mask = (r <= 15.0) & (r > 12.0)
    report = printability(mesh_of(mask), thinnest_wall(mask, (1.0, 1.0, 1.0)))
    assert report.printable
    assert report.bodies == 1
    assert report.thinnest_wall_mm == pytest.approx(3.0, abs=1.0)
    assert report.volume_ml == pytest.approx(4 / 3 * np.pi * (15.5**3 - 12.5**3) / 1000, rel=0.05)


@pytest.mark.parametrize("layers", [1, 2, 3, 4, 5])
def test_plate_wall_within_half_a_voxel(layers: int) -> None:
    """A plate of ``layers`` slices of 2 mm (columns 0.8 mm, rows 1 mm): its surface is
    ``layers`` x 2 mm thick, and so is the wall, within half a slice."""
    mask = np.zeros((layers + 4, 40, 40), dtype=bool)
    mask[2 : 2 + layers, 2:38, 2:38] = True
    wall = thinnest_wall(mask, (2.0, 1.0, 0.8))
    assert wall is not None
    assert wall == pytest.approx(2.0 * layers, abs=1.0)
    # Half a slice over on odd counts (the ridge a voxel), half under on even ones.
    assert wall == 2.0 * layers + (1.0 if layers % 2 else -1.0)


def test_a_ball_inside_a_cavity_is_a_second_body() -> None:
    """Three shells: the outside, the cavity (negative, inside the outside's box) and the ball
    in it: two bodies, every normal outward."""
    r = radii(40)
    mask = ((r <= 15.0) & (r > 10.0)) | (r <= 5.0)
    report = printability(mesh_of(mask), None)
    assert report.printable
    assert report.bodies == 2


def test_two_balls_are_two_bodies() -> None:
    mask = np.zeros((20, 20, 50), dtype=bool)
    r = radii(12)
    mask[4:16, 4:16, 4:16] = r <= 5
    mask[4:16, 4:16, 30:42] = r <= 5
    report = printability(mesh_of(mask), None)
    assert report.printable
    assert report.bodies == 2
    assert report.to_json()["ThinnestWallMm"] is None


def test_open_mesh_is_neither_closed_nor_manifold() -> None:
    mesh = mesh_of(cube_mask())
    report = printability(Mesh(mesh.vertices, mesh.faces[:-1]), None)
    assert not report.closed
    assert not report.manifold
    assert not report.printable
    assert report.problems()[:2] == ["not closed", "not manifold"]


def test_inverted_winding_is_not_outward() -> None:
    mesh = mesh_of(cube_mask())
    report = printability(Mesh(mesh.vertices, np.ascontiguousarray(mesh.faces[:, ::-1])), None)
    assert report.closed
    assert report.manifold
    assert not report.outward_normals
    assert report.volume_ml < 0
    assert report.problems() == ["normals not outward"]


def test_a_face_twice_is_closed_but_not_manifold() -> None:
    """An edge on four faces (a face duplicated): no hole, but no 2-manifold either; the repair
    removes the duplicate."""
    mesh = mesh_of(cube_mask())
    doubled = Mesh(mesh.vertices, np.concatenate([mesh.faces, mesh.faces[:1]]))
    report = printability(doubled, None)
    assert report.closed
    assert not report.manifold
    fixed, fixed_report = checked(doubled, None, "segment 1")
    assert fixed_report.printable
    assert len(fixed.faces) == len(mesh.faces)


def test_welded_stl_corners_give_the_meshes_report() -> None:
    """An STL's three corners a face, welded back into shared vertices: the same report."""
    mesh = mesh_of(cube_mask())
    corners = mesh.vertices[mesh.faces].reshape(-1, 3)
    soup = Mesh(corners, np.arange(len(corners)).reshape(-1, 3))
    assert not printability(soup, None).closed
    assert printability(welded(soup), None) == printability(mesh, None)


def test_repair_merges_split_vertices() -> None:
    """A vertex split in two (a seam decimation can leave): closed again once merged."""
    mesh = mesh_of(cube_mask())
    vertices = np.concatenate([mesh.vertices, mesh.vertices[:1]])
    faces = mesh.faces.copy()
    first = np.flatnonzero((faces == 0).any(axis=1))[0]
    faces[first][faces[first] == 0] = len(mesh.vertices)
    split = Mesh(vertices, faces)
    assert not printability(split, None).closed
    fixed = repaired(split)
    assert printability(fixed, None).printable
    assert len(fixed.vertices) == len(mesh.vertices)


@pytest.mark.parametrize("seed", range(10))
def test_coarse_sampling_of_speckles_stays_printable(seed: int) -> None:
    """Blocks of exactly half inside at VoxelSize 2, where random speckles touch, count as
    inside: at the level 0.5 itself they pinched the surface (not closed, not manifold)."""
    rng = np.random.default_rng(seed)
    mask = np.zeros((14, 14, 14), dtype=bool)
    mask[2:12, 2:12, 2:12] = rng.random((10, 10, 10)) > 0.5
    coarse = surface(mask, grid(mask.shape, (1.0, 1.0, 1.0)), sampling=Sampling(voxel_size=2.0))
    assert coarse is not None
    report = printability(coarse, None)
    assert report.closed
    assert report.manifold
    assert report.outward_normals
    # As stored: float32 corners of a binary STL, welded back into shared vertices.
    stored = printability(welded(read_binary_stl(binary_stl(coarse))), None)
    assert stored.closed
    assert stored.manifold


def test_a_model_no_repair_mends_is_refused_with_the_reason() -> None:
    """A cube with a face missing: merging vertices and dropping faces cannot close it."""
    mesh = mesh_of(cube_mask())
    kept = mesh.vertices[mesh.faces].mean(axis=1)[:, 2] < mesh.vertices[:, 2].max() - 1e-6
    holed = Mesh(mesh.vertices, mesh.faces[kept])
    with pytest.raises(UnprocessableError) as raised:
        checked(holed, None, "segment 3 (open box) at Decimate 0.9")
    assert raised.value.details.startswith("segment 3 (open box) at Decimate 0.9: not closed")


def test_merged_crops_wall_is_the_unions() -> None:
    """Two plates of 2 mm touching face to face are one 4 mm plate: the union's wall."""
    segment = Segment(1, "a", (255, 0, 0))
    upper = np.ones((2, 30, 30), dtype=bool)
    crops = [SegmentCrop(segment, upper, (2, 2, 2)), SegmentCrop(segment, upper, (4, 2, 2))]
    geometry = grid((10, 40, 40), (1.0, 1.0, 1.0))
    single = crops_thinnest_wall(crops[:1], geometry)
    union = crops_thinnest_wall(crops, geometry)
    assert single == pytest.approx(2.0, abs=0.5)
    assert union == pytest.approx(4.0, abs=0.5)


def test_mesh_options_default_models_are_printable() -> None:
    """The default pipeline (Taubin, 20 iterations) on a ball keeps it printable."""
    mask = radii(24) <= 9
    crop = SegmentCrop(Segment(1, "ball", (255, 0, 0)), mask, (0, 0, 0))
    mesh = crop.mesh(grid(mask.shape, (1.0, 1.0, 1.0)), MeshOptions(decimate=0.9))
    assert mesh is not None
    assert printability(mesh, None).printable


def test_a_hollowed_models_wall_is_its_shells() -> None:
    """A solid ball of radius 20 mm hollowed to a 3 mm wall: the report of the model a worker
    builds gives the shell's wall, measured on the prepared voxels, not the ball's diameter."""
    mask = radii(46) <= 20
    crop = SegmentCrop(Segment(1, "ball", (255, 0, 0)), mask, (0, 0, 0))
    options = MeshOptions(preparation=Preparation(hollow=Hollow(wall_mm=3.0)))
    reported = MeshFile(
        crop=crop,
        geometry=grid(mask.shape, (1.0, 1.0, 1.0)),
        options=options,
        mesh_format=MeshFormat.STL,
    ).run()
    assert reported is not None
    assert reported.printability is not None
    assert reported.printability.thinnest_wall_mm == pytest.approx(3.0, abs=1.0)
    solid = MeshFile(
        crop=crop,
        geometry=grid(mask.shape, (1.0, 1.0, 1.0)),
        options=MeshOptions(),
        mesh_format=MeshFormat.STL,
    ).run()
    assert solid is not None
    assert solid.printability is not None
    assert solid.printability.thinnest_wall_mm is not None
    assert solid.printability.thinnest_wall_mm > 30.0


def manifold3d_verdict(mesh: Mesh) -> bool:
    """manifold3d's own verdict on ``mesh``, as the report asked it before its edge check."""
    solid = manifold3d.Manifold(
        manifold3d.Mesh(
            vert_properties=np.ascontiguousarray(mesh.vertices, dtype=np.float32),
            tri_verts=np.ascontiguousarray(mesh.faces, dtype=np.uint32),
        )
    )
    return bool(solid.status() == manifold3d.Error.NoError)


def shapes() -> list[tuple[str, Mesh]]:
    """Closed shapes and broken ones: each of the report's tests' meshes and a few more."""
    cube = mesh_of(cube_mask())
    vertices, faces = cube.vertices, cube.faces
    split_faces = faces.copy()
    first = np.flatnonzero((faces == 0).any(axis=1))[0]
    split_faces[first][split_faces[first] == 0] = len(vertices)
    repeated = faces.copy()
    repeated[0, 1] = repeated[0, 0]
    not_finite = vertices.copy()
    not_finite[3, 1] = np.nan
    corners = vertices[faces].reshape(-1, 3)
    size = 24
    two = np.zeros((8, 8, 8), dtype=bool)
    two[1:4, 1:4, 1:4] = two[4:7, 4:7, 1:4] = True  # two blocks touching along an edge
    rng = np.random.default_rng(3)
    return [
        ("cube", cube),
        ("ball", mesh_of(radii(size) <= 9.0)),
        ("hollow ball", mesh_of((radii(size) <= 10.0) & (radii(size) > 6.0))),
        ("edge-touching blocks", mesh_of(two)),
        ("speckles", mesh_of(rng.random((12, 12, 12)) < 0.4)),
        ("open", Mesh(vertices, faces[:-1])),
        ("inside out", Mesh(vertices, np.ascontiguousarray(faces[:, ::-1]))),
        ("a face twice", Mesh(vertices, np.concatenate([faces, faces[:1]]))),
        ("a face reversed twice", Mesh(vertices, np.concatenate([faces, faces[:1, ::-1]]))),
        ("split vertex", Mesh(np.concatenate([vertices, vertices[:1]]), split_faces)),
        ("repeated corner", Mesh(vertices, repeated)),
        ("not finite", Mesh(not_finite, faces)),
        ("soup", Mesh(corners, np.arange(len(corners)).reshape(-1, 3))),
    ]


@pytest.mark.parametrize(("name", "mesh"), shapes())
def test_edge_check_keeps_manifold3ds_verdict(name: str, mesh: Mesh) -> None:
    """The edge check (no manifold3d copy of a large mesh) only ever says yes where manifold3d
    does and the mesh is closed (so the report's verdicts are manifold3d's and the unique of
    the edges'); closed shapes take the edge check."""
    verdict = manifold3d_verdict(mesh)
    paired = _paired_edges(mesh.vertices, mesh.faces)
    assert not paired or verdict, name
    assert not paired or _closed(mesh.faces, len(mesh.vertices)), name
    if name in ("cube", "ball", "hollow ball", "inside out"):
        assert paired, name
    if paired:
        # Shells found from each edge once: the same shells as from two edges a face.
        once, twice = _shells(mesh, True), _shells(mesh, False)
        for found in (once, twice):
            order = np.lexsort(found[1].reshape(len(found[1]), -1).T)
            found[0][:], found[1][:] = found[0][order], found[1][order]
        np.testing.assert_allclose(once[0], twice[0], rtol=0, atol=1e-9)
        np.testing.assert_array_equal(once[1], twice[1])
