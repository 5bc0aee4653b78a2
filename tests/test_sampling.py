"""Unit tests of coarse marching cubes (Step, VoxelSize): a generated CT of a ball of known
radius keeps its place in LPS mm and about its volume at every sampling."""

from __future__ import annotations

import math

import numpy as np
import pytest
import trimesh

from segmesh.errors import BadRequestError
from segmesh.geometry import VolumeGeometry
from segmesh.mesh import (
    Mesh,
    MeshOptions,
    Sampling,
    Smoothing,
    ThresholdOptions,
    segment_crops,
    threshold_labelmap,
)
from segmesh.requests.mesh_fields import mesh_options
from segmesh.settings import Settings
from tests.builders import ct_series, ellipsoid_labels

#: (row, column, slice) mm, as ct_series takes them; the ball's radius and centre in mm.
SPACING = (0.7, 0.8, 1.25)
ORIGIN = (-20.0, -25.0, 10.0)
RADIUS = 12.0
CENTRE = (4.0, -4.5, 35.0)


def ball_ct(shape: tuple[int, int, int] = (40, 50, 60)) -> list:
    """A CT of a water ball (0 HU) in air (-1000 HU)."""
    labels = ellipsoid_labels(
        shape, [CENTRE], [[RADIUS] * 3], (SPACING[1], SPACING[0], SPACING[2]), ORIGIN
    )
    return ct_series(
        shape, SPACING, ORIGIN, pixels=labels.astype(np.int16) * 1000, rescale_intercept=-1000
    )


def ball_mesh(sampling: Sampling) -> tuple[Mesh, VolumeGeometry]:
    labelmap = threshold_labelmap(ball_ct(), ThresholdOptions(-500), Settings())
    ((_, crop),) = segment_crops(labelmap, None)
    assert crop is not None
    options = MeshOptions(smoothing=Smoothing.NONE, sampling=sampling)
    mesh = crop.mesh(labelmap.geometry, options)
    assert mesh is not None
    return mesh, labelmap.geometry


def is_watertight(mesh: Mesh) -> bool:
    return bool(trimesh.Trimesh(mesh.vertices, mesh.faces, process=True).is_watertight)


@pytest.mark.parametrize("sampling", [Sampling(step=2), Sampling(step=3), Sampling(voxel_size=2.5)])
def test_a_coarse_model_keeps_its_place_and_volume(sampling: Sampling) -> None:
    full, geometry = ball_mesh(Sampling())
    coarse, _ = ball_mesh(sampling)
    factors = np.asarray(sampling.factors(geometry)[::-1], dtype=float)  # (i, j, k)
    coarse_voxel = factors * np.asarray(geometry.spacing)
    assert np.all(np.abs(coarse.bounds - full.bounds) < coarse_voxel)
    # Both are near the ball itself, in LPS mm.
    np.testing.assert_allclose(full.centroid, CENTRE, atol=0.3)
    np.testing.assert_allclose(coarse.centroid, CENTRE, atol=coarse_voxel.max() / 2)
    ball = 4.0 / 3.0 * math.pi * RADIUS**3
    assert full.volume == pytest.approx(ball, rel=0.03)
    assert coarse.volume == pytest.approx(full.volume, rel=0.12)
    assert coarse.triangle_count < full.triangle_count / 2
    assert is_watertight(coarse)


def test_voxel_size_blocks_by_the_nearest_whole_factor() -> None:
    _, geometry = ball_mesh(Sampling())
    # 2.5 mm over (1.25, 0.7, 0.8) mm: 2, 3.6 -> 4, 3.1 -> 3 voxels (slices, rows, columns).
    assert Sampling(voxel_size=2.5).factors(geometry) == (2, 4, 3)
    assert Sampling(voxel_size=0.1).factors(geometry) == (1, 1, 1)
    assert Sampling(step=4).factors(geometry) == (4, 4, 4)


def test_samples_of_a_mask() -> None:
    mask = np.zeros((5, 4, 6), dtype=bool)
    mask[1:, :, 2:] = True
    step, first = Sampling(step=2).padded_samples(mask, (2, 2, 2))
    assert step.shape == (5, 4, 5)
    assert step.dtype == np.float32
    np.testing.assert_array_equal(step[1:-1, 1:-1, 1:-1], mask[::2, ::2, ::2])
    assert not step[0].any()
    assert not step[:, :, -1].any()
    np.testing.assert_array_equal(first, [0, 0, 0])
    blocks, first = Sampling(voxel_size=1).padded_samples(mask, (2, 2, 3))
    assert blocks.shape == (5, 4, 4)
    # Block (0, 0, 0): slices 0-1, columns 0-2 -> 2 inside of 12; the last slice block, cut
    # by the far face (slice 4 only), counts its missing voxels as outside.
    assert blocks[1, 1, 1] == pytest.approx(2 / 12)
    assert blocks[2, 1, 2] == 1
    # Exactly half inside: counted inside, a quarter voxel of the 12 above the level.
    assert blocks[3, 1, 2] == pytest.approx(0.5 + 0.25 / 12)
    np.testing.assert_allclose(first, [0.5, 0.5, 1.0])


def test_sampling_is_recorded_only_where_set() -> None:
    assert "Step" not in mesh_options({}).to_json()
    assert mesh_options({"Step": 3}).to_json()["Step"] == 3
    assert mesh_options({"voxelsize": "1.5"}).to_json()["VoxelSize"] == 1.5


@pytest.mark.parametrize(
    "values",
    [
        {"Step": 0},
        {"Step": 1.5},
        {"Step": "x"},
        {"Step": True},
        {"Step": 65},
        {"VoxelSize": 0},
        {"VoxelSize": -1},
        {"VoxelSize": "nan"},
        {"Step": 2, "VoxelSize": 1},
    ],
)
def test_bad_sampling_is_a_bad_request(values: dict) -> None:
    with pytest.raises(BadRequestError):
        mesh_options(values)
