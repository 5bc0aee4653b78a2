"""Resampling a case (image and training labels) to a target voxel spacing."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
from scipy import ndimage

from ..errors import BadRequestError
from ..geometry import VolumeGeometry


@dataclass(frozen=True)
class ResampledCase:
    """``image`` and ``labels`` (slices, rows, columns) on ``geometry``, dtypes kept."""

    geometry: VolumeGeometry
    image: npt.NDArray[Any]
    labels: npt.NDArray[Any]


def _working_dtype(dtype: np.dtype[Any]) -> np.dtype[Any]:
    """The float type interpolation runs in: float32 holds 16-bit integers exactly."""
    if dtype in (np.float32, np.float64):
        return dtype
    if dtype.kind in "iub" and dtype.itemsize <= 2:
        return np.dtype(np.float32)
    return np.dtype(np.float64)


def _interpolated_image(
    image: npt.NDArray[Any], scale: npt.NDArray[np.float64], shape: tuple[int, int, int]
) -> npt.NDArray[Any]:
    work = _working_dtype(image.dtype)
    resampled = ndimage.affine_transform(
        image.astype(work, copy=False),
        scale,
        output_shape=shape,
        output=work,
        order=1,
        mode="nearest",
    )
    if image.dtype.kind in "iu":
        limits = np.iinfo(image.dtype)
        np.rint(resampled, out=resampled)
        np.clip(resampled, limits.min, limits.max, out=resampled)
    return resampled.astype(image.dtype, copy=False)


def resample_case(
    geometry: VolumeGeometry,
    image: npt.NDArray[Any],
    labels: npt.NDArray[Any],
    spacing: tuple[float, float, float],
) -> ResampledCase:
    """``image`` and ``labels`` (slices, rows, columns) on ``geometry`` resampled to ``spacing``
    (x, y, z) mm, the order of :attr:`VolumeGeometry.spacing` (along columns i, along rows j,
    between slices k).

    The new grid keeps the direction cosines and the first voxel's centre and covers the same
    extent: n' = max(1, round((n - 1) * old / new) + 1) along each axis. The image is
    interpolated linearly (rounded back for integer types), the labels take the nearest voxel's
    value. Non-uniform slices are resampled along the affine's slice axis, the mean step: the
    new slices are equally spaced, and an input slice off that line is treated as on it.
    400 where a spacing is not positive.
    """
    target = [float(value) for value in spacing]
    if len(target) != 3 or not all(math.isfinite(v) and v > 0 for v in target):
        raise BadRequestError("Bad parameter Spacing", f"three positive mm values, not {spacing}")
    old = geometry.spacing
    # (i, j, k) ratios new / old, and the counts per axis.
    ratios = [new / before for new, before in zip(target, old, strict=True)]
    sizes = (geometry.shape[2], geometry.shape[1], geometry.shape[0])
    counts = [max(1, round((n - 1) / ratio) + 1) for n, ratio in zip(sizes, ratios, strict=True)]
    shape = (counts[2], counts[1], counts[0])
    # Array axes are (k, j, i): output index o samples input index o * ratio.
    scale = np.array([ratios[2], ratios[1], ratios[0]], dtype=np.float64)
    resampled_labels = ndimage.affine_transform(
        labels, scale, output_shape=shape, output=labels.dtype, order=0, mode="nearest"
    )
    affine = geometry.affine.copy()
    affine[:3, :3] = affine[:3, :3] * np.array(ratios)
    k = np.arange(shape[0], dtype=np.float64)[:, None]
    resampled_geometry = VolumeGeometry(
        shape=shape,
        affine=affine,
        frame_of_reference_uid=geometry.frame_of_reference_uid,
        slice_positions=affine[:3, 3] + k * affine[:3, 2],
    )
    return ResampledCase(
        resampled_geometry, _interpolated_image(image, scale, shape), resampled_labels
    )
