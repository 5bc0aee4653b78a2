"""Unit tests of marching cubes in slabs: the same triangles as one pass over the whole mask."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import numpy.typing as npt
import pytest
import trimesh
from pydicom.dataset import Dataset
from scipy import ndimage

from segmesh.dicom.part10 import read_image
from segmesh.geometry import VolumeGeometry
from segmesh.mesh import (
    Mesh,
    MeshOptions,
    Sampling,
    Smoothing,
    ThresholdOptions,
    segment_crops,
    slabs,
    surface,
    threshold_labelmap,
)
from segmesh.mesh.preparation import Base, Hollow, Preparation, Scale
from segmesh.mesh.slab_components import largest_components
from segmesh.mesh.slabs import slab_layers, slab_surface
from segmesh.mesh.threshold import keep_largest
from segmesh.mesh.threshold_slabs import slabs_allowed, threshold_slices
from segmesh.settings import Settings
from segmesh.work import ThresholdMesh
from segmesh.worker_io.stored_files import read_headers
from tests.conftest import encode
from tests.test_sampling import ball_ct

Triangle = tuple[tuple[int, ...], ...]


def grid(shape: tuple[int, int, int], affine: list[list[float]]) -> VolumeGeometry:
    matrix = np.asarray(affine, dtype=np.float64)
    k = np.arange(shape[0], dtype=np.float64)[:, None]
    return VolumeGeometry(shape, matrix, "1.2.3", matrix[:3, 3] + k * matrix[:3, 2])


#: Oblique, anisotropic and left-handed (a negative column step): winding must still come out.
GEOMETRY = grid(
    (23, 17, 19),
    [[-0.7, 0.1, 0, 5], [0.1, 0.9, 0, -8], [0, 0.2, 2.5, 30], [0, 0, 0, 1]],
)


def odd_shapes(shape: tuple[int, int, int]) -> npt.NDArray[np.bool_]:
    """A hollow ellipsoid with a hole through its wall, touching the volume's first and last
    slices and one side, a diagonal rod, single voxels and noise: bodies crossing every slab
    border, Lewiner's ambiguous cases, and cuts by the volume's faces."""
    k, j, i = np.indices(shape, dtype=np.float64)
    centre = (np.asarray(shape) - 1) / 2
    radius = ((k - centre[0]) / 12) ** 2 + ((j - centre[1]) / 7) ** 2 + ((i - centre[2]) / 8) ** 2
    mask = (radius <= 1.0) & (radius >= 0.45)
    mask[:, 8, 8:] = False
    rod = (np.abs(j - k * 0.6) < 1.2) & (np.abs(i - 3) < 1.5)
    mask |= rod
    mask[5, 1, 17] = True
    mask[11, 16, 0] = True
    mask |= np.random.default_rng(3).random(shape) < 0.04
    return mask


def triangles(mesh: Mesh, geometry: VolumeGeometry) -> list[Triangle]:
    """Each triangle as its corners' indices (i, j, k) in 1/1024 voxels, starting at its least
    corner (the winding kept), sorted: vertex order aside, equal for the same surface."""
    ijk = np.rint(geometry.lps_to_index(mesh.vertices) * 1024).astype(np.int64)
    found = []
    for face in mesh.faces.tolist():
        corners = [tuple(int(v) for v in ijk[n]) for n in face]
        first = corners.index(min(corners))
        found.append(tuple(corners[first:] + corners[:first]))
    return sorted(found)


def one_pass(mask: npt.NDArray[np.bool_], geometry: VolumeGeometry) -> Mesh:
    box = ndimage.find_objects(mask.view(np.uint8))[0]
    origin = (box[0].start, box[1].start, box[2].start)
    mesh = surface(mask[box], geometry, origin, keep_degenerate=True)
    assert mesh is not None
    return mesh


@pytest.mark.parametrize("layers", [1, 2, 3, 5, 8, 22, 23, 40])
def test_slabs_give_the_triangles_of_one_pass(layers: int) -> None:
    mask = odd_shapes(GEOMETRY.shape)
    expected = one_pass(mask, GEOMETRY)
    mesh = slab_surface(iter(mask), GEOMETRY, layers)
    assert mesh is not None
    assert mesh.triangle_count == expected.triangle_count
    # Each vertex once: the shared planes' copies merged.
    assert len(mesh.vertices) == len(expected.vertices)
    assert triangles(mesh, GEOMETRY) == triangles(expected, GEOMETRY)
    assert mesh.volume == pytest.approx(expected.volume, rel=1e-12)
    assert mesh.volume > 0


def test_slabs_of_one_layer_make_a_closed_consistent_surface() -> None:
    mask = odd_shapes(GEOMETRY.shape)
    mesh = slab_surface(iter(mask), GEOMETRY, 1)
    assert mesh is not None
    tm = trimesh.Trimesh(mesh.vertices, mesh.faces, process=False)
    assert tm.is_watertight
    assert tm.is_winding_consistent
    # The voxels' volume: marching cubes of a binary mask cuts a corner's worth per corner.
    voxel = abs(np.linalg.det(GEOMETRY.affine[:3, :3]))
    assert 0.8 * mask.sum() * voxel < tm.volume < mask.sum() * voxel


def test_empty_slabs_between_bodies_and_an_empty_mask() -> None:
    geometry = grid((12, 6, 7), [[1, 0, 0, 0], [0, 1, 0, 0], [0, 0, 1, 0], [0, 0, 0, 1]])
    mask = np.zeros(geometry.shape, dtype=bool)
    assert slab_surface(iter(mask), geometry, 2) is None
    mask[1:3, 2:4, 2:5] = True
    mask[9:12, 0:6, 6] = True  # after three empty slabs, touching the last slice
    expected = triangles(one_pass(mask, geometry), geometry)
    for layers in (1, 2, 4):
        mesh = slab_surface(iter(mask), geometry, layers)
        assert mesh is not None
        assert triangles(mesh, geometry) == expected


def test_slab_layers_hold_a_bounded_number_of_voxels() -> None:
    assert slab_layers(1024, 1024) == 14
    assert slab_layers(4, 4, voxels=10) == 1
    assert (slab_layers(512, 512) + 1) * 514 * 514 <= 1 << 24


def test_a_series_read_in_slabs_is_thresholded_as_the_whole_mask(monkeypatch) -> None:
    """The slab reader on a small series, headers first and pixels read as asked for, and the
    preview unit meshing it in slabs of 3 layers: the mask and mesh of the whole-mask path."""
    monkeypatch.setattr(slabs, "SLAB_VOXELS", 4 * 32 * 42)
    images = ball_ct((12, 30, 40))
    files = [encode(image) for image in images]
    headers = read_headers(files)
    threshold = ThresholdOptions(-500, 100)
    whole = threshold_labelmap(headers, threshold, Settings(), lambda n: read_image(files[n]))
    read: list[int] = []

    def with_pixels(n: int) -> Dataset:
        read.append(n)
        return read_image(files[n])

    geometry, masks = threshold_slices(headers, threshold, Settings(), with_pixels)
    assert geometry.shape == whole.geometry.shape
    assert read == []  # nothing read before it is asked for
    np.testing.assert_array_equal(np.stack(list(masks)), whole.layers[0].view(bool))
    assert sorted(read) == list(range(12))

    options = MeshOptions(smoothing=Smoothing.NONE)
    assert slabs_allowed(options)
    preview = ThresholdMesh(files=files, threshold=threshold, options=options, settings=Settings())
    mesh = preview.run()
    ((_, crop),) = segment_crops(whole, None)
    assert mesh is not None
    assert crop is not None
    expected = crop.mesh(whole.geometry, options)
    assert expected is not None
    assert triangles(mesh.mesh, geometry) == triangles(expected, geometry)
    assert mesh.printability.printable

    # The preparation's mesh steps run on the stitched mesh: a scaled model, in slabs, is the
    # one pass's scaled.
    scaled = MeshOptions(smoothing=Smoothing.NONE, preparation=Preparation(scale=Scale(2.0)))
    assert slabs_allowed(scaled)
    preview = ThresholdMesh(files=files, threshold=threshold, options=scaled, settings=Settings())
    reported = preview.run()
    expected = crop.mesh(whole.geometry, scaled)
    assert reported is not None
    assert expected is not None
    assert reported.mesh.volume == pytest.approx(expected.volume, rel=1e-9)
    assert reported.mesh.volume == pytest.approx(8.0 * mesh.mesh.volume, rel=1e-9)


@pytest.mark.parametrize(
    ("options", "allowed"),
    [
        (MeshOptions(), True),
        (MeshOptions(Smoothing.LAPLACIAN, 7, 0.5), True),
        (MeshOptions(sampling=Sampling(step=2)), False),
        (MeshOptions(sampling=Sampling(voxel_size=2.0)), False),
        (MeshOptions(preparation=Preparation(target_triangles=500)), True),
        (MeshOptions(preparation=Preparation(scale=Scale(factor=2.0))), True),
        (MeshOptions(preparation=Preparation(base=Base(down=(0.0, 0.0, -1.0)))), True),
        (MeshOptions(preparation=Preparation(fill_cavities=True)), False),
        (MeshOptions(preparation=Preparation(hollow=Hollow(wall_mm=3.0))), False),
        (MeshOptions(preparation=Preparation(keep_largest=1)), False),
    ],
)
def test_slabs_are_taken_only_where_the_options_allow(options, allowed) -> None:
    assert slabs_allowed(options) is allowed


@pytest.mark.parametrize("block_slices", [1, 2, 5, 16])
@pytest.mark.parametrize("count", [1, 2, 7])
def test_largest_components_in_two_passes_are_those_of_the_whole_mask(block_slices, count):
    """Random bodies (many of equal sizes: ties) that wind across blocks, a U joined only in
    the last block, and voxels touching only by an edge (not joined in 6-connectivity)."""
    shape = (13, 15, 16)
    mask = np.random.default_rng(block_slices + count).random(shape) < 0.3
    mask[:, 0, :] = False
    mask[0:12, 0, 2] = True  # the U's arms, apart until slice 12
    mask[0:12, 0, 12] = True
    mask[12, 0, 2:13] = True
    expected = keep_largest(mask.copy(), count)
    calls: list[int] = []

    def read() -> Iterator[npt.NDArray[np.bool_]]:
        calls.append(1)
        return iter(mask)

    kept = np.stack(list(largest_components(read, count, block_slices)))
    assert len(calls) == 2
    np.testing.assert_array_equal(kept, expected)


def test_largest_components_of_an_empty_mask_and_of_few_bodies() -> None:
    empty = np.zeros((4, 5, 6), dtype=bool)
    assert not np.stack(list(largest_components(lambda: iter(empty), 1, 2))).any()
    two = empty.copy()
    two[0, 0, 0] = two[3, 4, 5] = True
    np.testing.assert_array_equal(np.stack(list(largest_components(lambda: iter(two), 3, 2))), two)


def test_keep_largest_is_meshed_in_slabs_as_the_whole_mask(monkeypatch) -> None:
    monkeypatch.setattr(slabs, "SLAB_VOXELS", 4 * 32 * 42)
    files = [encode(image) for image in ball_ct((12, 30, 40))]
    threshold = ThresholdOptions(-500, keep_largest=1)
    options = MeshOptions(smoothing=Smoothing.NONE)
    assert slabs_allowed(options)
    whole = threshold_labelmap([read_image(data) for data in files], threshold, Settings())
    ((_, crop),) = segment_crops(whole, None)
    assert crop is not None
    expected = crop.mesh(whole.geometry, options)
    mesh = ThresholdMesh(files=files, threshold=threshold, options=options, settings=Settings())
    result = mesh.run()
    assert result is not None
    assert expected is not None
    assert triangles(result.mesh, whole.geometry) == triangles(expected, whole.geometry)
