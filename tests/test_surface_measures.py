"""The marching-cubes surface's volume and area summed per cube configuration, against the
mesh itself (:func:`segmesh.mesh.surface`) on random masks and grids."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from segmesh.geometry import VolumeGeometry
from segmesh.mesh import surface, surface_volume_and_area
from tests.test_mesh import grid


def random_affine(rng: np.random.Generator, sheared: bool, mirrored: bool) -> np.ndarray:
    """A rotation times voxel sizes of 0.3 to 3 mm, optionally sheared and left-handed."""
    affine = np.eye(4)
    rotation, _ = np.linalg.qr(rng.normal(size=(3, 3)))
    affine[:3, :3] = rotation @ np.diag(rng.uniform(0.3, 3.0, 3))
    if sheared:
        affine[:3, 2] += rng.normal(size=3) * 0.3
    if mirrored:
        affine[:3, 2] *= -1
    affine[:3, 3] = rng.normal(size=3) * 50
    return affine


@settings(max_examples=60, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    shape=st.tuples(*[st.integers(1, 12)] * 3),
    fill=st.floats(0.05, 0.95),
    sheared=st.booleans(),
    mirrored=st.booleans(),
)
def test_figures_are_those_of_the_mesh(
    seed: int, shape: tuple[int, int, int], fill: float, sheared: bool, mirrored: bool
) -> None:
    rng = np.random.default_rng(seed)
    mask = rng.random(shape) < fill
    origin = (int(rng.integers(0, 4)), int(rng.integers(0, 4)), int(rng.integers(0, 4)))
    full = tuple(size + offset for size, offset in zip(shape, origin, strict=True))
    geometry = grid(full, random_affine(rng, sheared, mirrored))
    mesh = surface(mask, geometry, origin, keep_degenerate=True)
    volume, area = surface_volume_and_area(mask, geometry, origin)
    if mesh is None:
        assert (volume, area) == (0.0, 0.0)
        return
    assert volume == pytest.approx(mesh.volume, rel=1e-9)
    assert area == pytest.approx(mesh.area, rel=1e-9)


def test_uneven_slices_give_the_meshs_figures() -> None:
    positions = np.array([[0, 0, 0], [0, 0, 1.0], [0, 0, 2.0], [0, 0, 6.0], [0, 0, 7.0]])
    affine = np.eye(4)
    affine[:3, 2] = (positions[-1] - positions[0]) / 4
    geometry = VolumeGeometry((5, 6, 6), affine, "1.2.3", positions)
    mask = np.zeros((5, 6, 6), dtype=bool)
    mask[1:4, 2:4, 2:4] = True
    mesh = surface(mask, geometry, keep_degenerate=True)
    assert mesh is not None
    # The cubes between slices 2 and 3 are 4 mm tall, the others 1 mm: no one table fits.
    assert surface_volume_and_area(mask, geometry) == pytest.approx((mesh.volume, mesh.area))
    uniform = grid((5, 6, 6), affine)
    assert surface_volume_and_area(mask, uniform)[0] != pytest.approx(mesh.volume)


def test_a_voxel_block_is_an_exact_box_less_its_corners() -> None:
    geometry = grid((6, 6, 6), np.diag([0.5, 2.0, 3.0, 1.0]))
    mask = np.zeros((6, 6, 6), dtype=bool)
    mask[1:5, 1:5, 1:5] = True
    mesh = surface(mask, geometry, keep_degenerate=True)
    assert mesh is not None
    assert surface_volume_and_area(mask, geometry) == pytest.approx((mesh.volume, mesh.area))
    # Marching cubes cuts the block's edges and corners: a bit under 4 x 4 x 4 voxels of 3 mm^3.
    assert 0.85 * 64 * 3.0 < mesh.volume < 64 * 3.0
