"""A posted label map's grid against the series' grid: the same lattice is taken exactly (its
axes maybe flipped or permuted, the file maybe covering part of the series); anything else is
a 422 naming the difference, or, where the caller asks, a nearest-neighbour resampling.

The file's voxel (a, b, c) lies at ``affine @ [a, b, c, 1]`` (LPS mm); the series' voxel
[k, j, i] at :meth:`VolumeGeometry.index_to_lps`, which follows non-uniform slices.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import numpy as np
import numpy.typing as npt

from ..errors import UnprocessableError
from ..formats.label_volume import LabelVolume
from ..geometry import VolumeGeometry

#: Largest distance, in voxels of the series, between a file voxel's centre and the series
#: voxel it is taken as: NIfTI affines are float32, and writers round origins.
VOXEL_TOLERANCE = 0.05
SERIES_AXES = ("i", "j", "k")
#: Labelled voxels mapped at once when counting those outside a resampled series.
OUTSIDE_BATCH = 1 << 20


class Match(StrEnum):
    """How the file's grid lies on the series' grid."""

    SAME = "Same"  # the same voxels in the same order
    REORIENTED = "Reoriented"  # the same voxels, axes flipped or permuted
    PART = "Part"  # a box of the series' voxels (a cropped file), maybe reoriented
    RESAMPLED = "Resampled"  # nearest neighbour, asked for


@dataclass(frozen=True)
class Placement:
    """``axes``: for each file axis, the series axis it runs along, signed ("+i", "-k");
    ``offset``: the series index [i, j, k] of the file's first voxel (None where resampled);
    ``outside``: labelled file voxels that fall outside the series (resampling only)."""

    match: Match
    axes: tuple[str, str, str]
    offset: tuple[int, int, int] | None
    outside: int = 0

    def to_json(self) -> dict[str, Any]:
        """The ``Grid`` of an import's answer."""
        value: dict[str, Any] = {"Match": self.match.value, "Axes": list(self.axes)}
        if self.offset is not None:
            value["Offset"] = list(self.offset)
        if self.match is Match.RESAMPLED:
            value["LabelledVoxelsOutside"] = self.outside
        return value


def _mismatch(volume: LabelVolume, geometry: VolumeGeometry) -> str:
    """What differs, in words, for the 422."""
    file_spacing = np.linalg.norm(volume.affine[:3, :3], axis=0)
    file_axes = volume.affine[:3, :3] / file_spacing
    series_axes = geometry.affine[:3, :3] / np.linalg.norm(geometry.affine[:3, :3], axis=0)
    cosines = np.abs(file_axes.T @ series_axes)
    if np.any(cosines.max(axis=1) < 1 - 1e-3):
        return (
            f"the file's axes {np.round(file_axes.T, 4).tolist()} are not along the series' "
            f"{np.round(series_axes.T, 4).tolist()} (LPS): resample to place it"
        )
    along = cosines.argmax(axis=1)
    series_spacing = np.asarray(geometry.spacing)[along]
    if not np.allclose(file_spacing, series_spacing, rtol=1e-3):
        return (
            f"the file's voxels are {_mm(file_spacing)} mm, the series' {_mm(series_spacing)} mm"
            + ("" if geometry.is_uniform else " (its slices are not evenly spaced)")
        )
    first = geometry.lps_to_index(volume.affine[:3, 3][np.newaxis])[0]
    return (
        f"the file's first voxel lies at series index {np.round(first, 3).tolist()} [i, j, k], "
        "between the series' voxels"
    )


def _mm(values: npt.NDArray[np.float64]) -> str:
    return " x ".join(f"{v:.4g}" for v in values)


def _lattice(volume: LabelVolume, geometry: VolumeGeometry) -> tuple[list[int], list[int], Any]:
    """For each file axis the series axis and the sign it runs with, and the series index of
    the file's first voxel; 422 where the file's voxels are not the series' voxels."""
    shape = volume.layers.shape[1:]
    origin = volume.affine[:3, 3]
    first = geometry.lps_to_index(origin[np.newaxis])[0]
    steps = geometry.lps_to_index(origin + volume.affine[:3, :3].T) - first
    along = [int(np.argmax(np.abs(step))) for step in steps]
    signs = [int(np.sign(step[axis])) for step, axis in zip(steps, along, strict=True)]
    offset = np.round(first)
    if sorted(along) != [0, 1, 2]:
        raise UnprocessableError("Label map not on the series' grid", _mismatch(volume, geometry))
    # Every corner, and every slice along the series' slice axis (slices may be uneven).
    corners = np.array(list(itertools.product(*[(0, n - 1) for n in shape])), dtype=np.float64)
    slice_axis = along.index(2)
    line = np.zeros((shape[slice_axis], 3))
    line[:, slice_axis] = np.arange(shape[slice_axis])
    samples = np.vstack([corners, line])
    expected = np.tile(offset, (len(samples), 1))
    for axis in range(3):
        expected[:, along[axis]] += signs[axis] * samples[:, axis]
    world = samples @ volume.affine[:3, :3].T + origin
    found = geometry.lps_to_index(world)
    if np.abs(found - expected).max() > VOXEL_TOLERANCE:
        raise UnprocessableError("Label map not on the series' grid", _mismatch(volume, geometry))
    return along, signs, offset.astype(int)


def _placed(
    volume: LabelVolume, geometry: VolumeGeometry, along: list[int], signs: list[int], offset: Any
) -> tuple[npt.NDArray[Any], bool]:
    """The file's layers on the series grid (layers, k, j, i), and whether it covers it all;
    422 where labelled voxels fall outside the series."""
    columns, rows, slices = geometry.shape[2], geometry.shape[1], geometry.shape[0]
    sizes = (columns, rows, slices)
    # File axes reordered as series axes i, j, k, flipped to run forwards.
    order = [along.index(axis) for axis in range(3)]
    data = np.transpose(volume.layers, [0, *(1 + a for a in order)])
    flips = tuple(
        slice(None, None, -1) if signs[order[axis]] < 0 else slice(None) for axis in range(3)
    )
    data = data[(slice(None), *flips)]
    starts = [
        int(offset[axis])
        if signs[order[axis]] > 0
        else int(offset[axis]) - data.shape[1 + axis] + 1
        for axis in range(3)
    ]
    inside = [
        slice(max(0, -start), min(data.shape[1 + axis], sizes[axis] - start))
        for axis, start in enumerate(starts)
    ]
    if any(part.start >= part.stop for part in inside):
        raise UnprocessableError(
            "Label map outside the series", "the file's grid and the series' do not overlap"
        )
    kept = data[(slice(None), *inside)]
    outside = int(np.count_nonzero(data)) - int(np.count_nonzero(kept))
    if outside:
        raise UnprocessableError(
            "Label map outside the series",
            f"{outside} labelled voxels of the file lie outside the series' grid",
        )
    layers = np.zeros((data.shape[0], slices, rows, columns), dtype=data.dtype)
    box = tuple(
        slice(start + part.start, start + part.stop)
        for start, part in zip(starts, inside, strict=True)
    )
    # Series arrays are [k, j, i]: the box and the data reversed.
    layers[(slice(None), box[2], box[1], box[0])] = np.transpose(kept, (0, 3, 2, 1))
    whole = all(start == 0 for start in starts) and data.shape[1:] == sizes
    return layers, whole


def _resampled(volume: LabelVolume, geometry: VolumeGeometry) -> tuple[npt.NDArray[Any], int]:
    """Nearest-neighbour labels at each series voxel's centre (layers, k, j, i), slice by
    slice; and how many labelled file voxels lie outside the series' voxels."""
    slices, rows, columns = geometry.shape
    inverse = np.linalg.inv(volume.affine)
    size = np.asarray(volume.layers.shape[1:])
    layers = np.zeros((volume.layers.shape[0], slices, rows, columns), dtype=volume.layers.dtype)
    in_plane = np.arange(columns)[np.newaxis, :, np.newaxis] * (
        inverse[:3, :3] @ geometry.affine[:3, 0]
    ) + np.arange(rows)[:, np.newaxis, np.newaxis] * (inverse[:3, :3] @ geometry.affine[:3, 1])
    for k, position in enumerate(geometry.slice_positions):
        start = inverse[:3, :3] @ position + inverse[:3, 3]
        index = np.rint(in_plane + start).astype(np.intp)
        valid = np.all((index >= 0) & (index < size), axis=2)
        a, b, c = index[valid].T
        layers[:, k][:, valid] = volume.layers[:, a, b, c]
    return layers, _labelled_outside(volume, geometry)


def _labelled_outside(volume: LabelVolume, geometry: VolumeGeometry) -> int:
    """Labelled file voxels whose centres lie outside the series' voxels, counted in batches
    (a large label map has tens of millions of labelled voxels)."""
    labelled = np.argwhere(np.any(volume.layers != 0, axis=0))
    upper = np.array([geometry.shape[2], geometry.shape[1], geometry.shape[0]]) - 0.5
    outside = 0
    for batch in range(0, len(labelled), OUTSIDE_BATCH):
        points = labelled[batch : batch + OUTSIDE_BATCH] @ volume.affine[:3, :3].T
        index = geometry.lps_to_index(points + volume.affine[:3, 3])
        outside += int(np.count_nonzero(np.any((index < -0.5) | (index > upper), axis=1)))
    return outside


def _axes_names(along: list[int], signs: list[int]) -> tuple[str, str, str]:
    a, b, c = (("+" if s > 0 else "-") + SERIES_AXES[x] for x, s in zip(along, signs, strict=True))
    return a, b, c


def place_on_series(
    volume: LabelVolume, geometry: VolumeGeometry, resample: bool = False
) -> tuple[npt.NDArray[Any], Placement]:
    """The file's label layers on the series' grid (layers, slices, rows, columns), and how
    they were placed. 422 where the grids differ (unless ``resample``) or labelled voxels fall
    outside the series."""
    try:
        along, signs, offset = _lattice(volume, geometry)
    except UnprocessableError:
        if not resample:
            raise
        layers, outside = _resampled(volume, geometry)
        file_axes = volume.affine[:3, :3] / np.linalg.norm(volume.affine[:3, :3], axis=0)
        series_axes = geometry.affine[:3, :3] / np.linalg.norm(geometry.affine[:3, :3], axis=0)
        cosines = file_axes.T @ series_axes
        along = [int(np.argmax(np.abs(row))) for row in cosines]
        signs = [int(np.sign(cosines[a, b])) for a, b in enumerate(along)]
        return layers, Placement(Match.RESAMPLED, _axes_names(along, signs), None, outside)
    layers, whole = _placed(volume, geometry, along, signs, offset)
    reoriented = along != [0, 1, 2] or any(s < 0 for s in signs)
    match = Match.PART if not whole else Match.REORIENTED if reoriented else Match.SAME
    i, j, k = (int(n) for n in offset)
    return layers, Placement(match, _axes_names(along, signs), (i, j, k))
