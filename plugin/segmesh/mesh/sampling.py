"""Coarser marching cubes for quick previews of very large scans.

``Step`` n meshes every n-th voxel along each axis; ``VoxelSize`` s mm averages blocks of
round(s / spacing) voxels per axis (at least 1) and meshes the fraction of each block inside
at 0.5 (a block exactly half inside counts as inside). Either way the samples keep their index
in the full grid, so that a coarse model stays in patient LPS mm where the full one is.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from ..geometry import VolumeGeometry
from ..labelmap import BoolArray

#: Coarser than this many voxels a side is not a preview any more.
MAX_STEP = 64

Factors = tuple[int, int, int]


@dataclass(frozen=True)
class Sampling:
    """Every ``step``-th voxel, or blocks of about ``voxel_size`` mm; the full grid by default
    (parsed by :func:`segmesh.requests.mesh_fields.sampling`)."""

    step: int = 1
    voxel_size: float | None = None

    def factors(self, geometry: VolumeGeometry) -> Factors:
        """Voxels a sample stands for along (slices, rows, columns)."""
        if self.voxel_size is None:
            return self.step, self.step, self.step
        column, row, slice_step = geometry.spacing
        k, j, i = (
            min(MAX_STEP, max(1, round(self.voxel_size / spacing)))
            for spacing in (slice_step, row, column)
        )
        return k, j, i

    def to_json(self) -> dict[str, Any]:
        """The parameters that are set: a full-grid model records none (and keeps its UIDs)."""
        if self.voxel_size is not None:
            return {"VoxelSize": self.voxel_size}
        return {"Step": self.step} if self.step != 1 else {}

    def padded_samples(
        self, mask: BoolArray, factors: Factors
    ) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.float64]]:
        """(K + 2, J + 2, I + 2) float32 samples in [0, 1] of ``mask`` (slices, rows, columns)
        with one empty sample around them (so that surfaces close), and (3,) the index (k, j,
        i) in ``mask`` of sample [1, 1, 1]: the corner voxel, or the first block's centre."""
        if self.voxel_size is None:
            step = mask[:: factors[0], :: factors[1], :: factors[2]]
            return _padded(step), np.zeros(3)
        # Blocks cut by the mask's far faces count their missing voxels as outside.
        shape = [
            -(-size // factor) * factor for size, factor in zip(mask.shape, factors, strict=True)
        ]
        whole = np.zeros(shape, dtype=bool)
        whole[: mask.shape[0], : mask.shape[1], : mask.shape[2]] = mask
        blocks = whole.reshape(
            shape[0] // factors[0], factors[0], shape[1] // factors[1], factors[1], -1, factors[2]
        )
        fractions = blocks.mean(axis=(1, 3, 5), dtype=np.float32)
        # A block exactly half inside counts as inside, a quarter voxel above the level: at
        # the level itself such ties put vertices on the samples, where the surfaces of
        # touching blocks pinch (not closed, not manifold: a noisy scan's speckles at
        # VoxelSize 2), and just above it they would fall within float32 rounding of them.
        fractions[fractions == 0.5] = 0.5 + 0.25 / (factors[0] * factors[1] * factors[2])
        return _padded(fractions), (np.asarray(factors, dtype=np.float64) - 1.0) / 2.0


def _padded(values: npt.NDArray[Any]) -> npt.NDArray[np.float32]:
    """``values`` as float32 inside one zero sample on each face, in one allocation (no padded
    copy of the input before the cast)."""
    padded = np.zeros(tuple(size + 2 for size in values.shape), dtype=np.float32)
    padded[1:-1, 1:-1, 1:-1] = values
    return padded
