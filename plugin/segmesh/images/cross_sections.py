"""The three planes through one voxel: what the viewer draws its first view from, before the
volumes are in.

Planes are by grid axis, raveled and put one after another: fixed slice k (rows, columns),
fixed row j (slices, columns), fixed column i (slices, rows), each in C order.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from ..errors import BadRequestError

Voxel = tuple[int, int, int]


def centre(shape: Sequence[int]) -> Voxel:
    """(i, j, k) of the voxel at the centre of a (slices, rows, columns) grid, as the viewer's
    crosshair starts."""
    return (int(shape[2]) // 2, int(shape[1]) // 2, int(shape[0]) // 2)


def checked_voxel(shape: Sequence[int], voxel: Voxel | None) -> Voxel:
    """``voxel`` (the centre where None), 400 where it is outside the (slices, rows, columns)
    grid."""
    if voxel is None:
        return centre(shape)
    i, j, k = voxel
    slices, rows, columns = (int(n) for n in shape)
    if not (0 <= i < columns and 0 <= j < rows and 0 <= k < slices):
        raise BadRequestError(
            "Bad parameter voxel",
            f"{i},{j},{k} is outside the grid of {columns} x {rows} x {slices} (i, j, k)",
        )
    return voxel


def cross_sections(array: npt.NDArray[Any], voxel: Voxel) -> npt.NDArray[Any]:
    """(..., rows * columns + slices * columns + slices * rows) values of ``array`` (...,
    slices, rows, columns) on the three planes through ``voxel`` (i, j, k)."""
    i, j, k = voxel
    lead = array.shape[:-3]
    planes = (array[..., k, :, :], array[..., :, j, :], array[..., :, :, i])
    return np.concatenate([plane.reshape(*lead, -1) for plane in planes], axis=-1)
