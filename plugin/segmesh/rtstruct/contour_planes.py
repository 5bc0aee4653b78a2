"""Planar contours in patient space: matching them to the slices of a grid, and the native grid
that an RT-STRUCT's contours span when no image series is at hand.

A contour belongs to the slice whose plane is nearest along the slice normal, within half the
slice spacing (half the gap on the contour's side where spacing is not uniform). Its points are
then taken in the plane of that slice, as (N, 2) [column i, row j] index coordinates.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from ..errors import UnprocessableError
from ..geometry import VolumeGeometry
from ..labelmap import check_voxel_limit

FloatArray = npt.NDArray[np.float64]

#: Two contours whose planes differ by less than this fraction of the slice spacing share a plane.
SAME_PLANE_FRACTION = 0.1
#: Default in-plane spacing (mm) of a native grid, where the request gives none.
DEFAULT_NATIVE_SPACING = 1.0
#: Empty voxels added around the contours on each side of a native grid, so that meshes close.
NATIVE_MARGIN = 1


@dataclass(frozen=True)
class Contour:
    """One CLOSED_PLANAR contour: ``item`` is its 1-based position in the ROI's
    ContourSequence, ``points`` (N, 3) LPS mm, ``image_uids`` the ReferencedSOPInstanceUIDs of
    its ContourImageSequence (a hint only)."""

    item: int
    points: FloatArray
    image_uids: tuple[str, ...] = ()


@dataclass
class Placement:
    """An ROI's contours on a grid.

    ``polygons`` maps slice k to the (N, 2) [i, j] polygons on it; ``slices`` the contour item
    to its slice; ``skipped`` holds (item, reason) of contours on no slice; ``clipped`` (item, k)
    of contours partly outside the image.
    """

    polygons: dict[int, list[FloatArray]] = field(default_factory=dict)
    slices: dict[int, int] = field(default_factory=dict)
    skipped: list[tuple[int, str]] = field(default_factory=list)
    clipped: list[tuple[int, int]] = field(default_factory=list)


def _slice_gaps(geometry: VolumeGeometry) -> tuple[FloatArray, FloatArray]:
    """(slices,) gaps in mm to the previous and to the next slice; the one neighbour's gap
    stands in at the ends, the affine's slice step for a single slice."""
    offsets = geometry.slice_offsets
    if offsets.size == 1:
        step = np.array([float(np.linalg.norm(geometry.affine[:3, 2]))])
        return step, step
    steps = np.abs(np.diff(offsets))
    return np.r_[steps[:1], steps], np.r_[steps, steps[-1:]]


def place_contours(contours: Sequence[Contour], geometry: VolumeGeometry) -> Placement:
    """Match ``contours`` to slices and express them in index coordinates of their slice."""
    placement = Placement()
    offsets = geometry.slice_offsets
    normal = geometry.normal
    before, after = _slice_gaps(geometry)
    to_plane = np.linalg.pinv(geometry.affine[:3, :2])  # (2, 3): in-plane mm -> [i, j]
    rows, columns = geometry.shape[1:]
    candidates: dict[int, list[tuple[float, Contour]]] = {}
    for contour in contours:
        heights = contour.points @ normal
        plane = float(heights.mean())
        k = int(np.argmin(np.abs(offsets - plane)))
        tolerance = 0.5 * (after[k] if plane >= offsets[k] else before[k])
        distance = float(np.max(np.abs(heights - offsets[k])))
        if abs(plane - offsets[k]) > tolerance:
            placement.skipped.append(
                (
                    contour.item,
                    f"plane at {plane:.3f} mm along the normal matches no slice (nearest: "
                    f"slice {k} at {offsets[k]:.3f} mm, tolerance {tolerance:.3f} mm)",
                )
            )
        elif distance > tolerance:
            placement.skipped.append(
                (
                    contour.item,
                    f"not parallel to the slices: its points lie {heights.min():.3f} to "
                    f"{heights.max():.3f} mm along the normal",
                )
            )
        else:
            candidates.setdefault(k, []).append((plane, contour))
    for k, planes in sorted(candidates.items()):
        nearest = min(planes, key=lambda candidate: abs(candidate[0] - offsets[k]))[0]
        same_plane = SAME_PLANE_FRACTION * 0.5 * (before[k] + after[k])
        for plane, contour in planes:
            if abs(plane - nearest) > same_plane:
                placement.skipped.append(
                    (
                        contour.item,
                        f"plane at {plane:.3f} mm: slice {k} already takes the contours at "
                        f"{nearest:.3f} mm",
                    )
                )
                continue
            indices = (contour.points - geometry.slice_positions[k]) @ to_plane.T
            placement.polygons.setdefault(k, []).append(indices)
            placement.slices[contour.item] = k
            if (
                indices.min() < -0.5
                or indices[:, 0].max() > columns - 0.5
                or indices[:, 1].max() > rows - 0.5
            ):
                placement.clipped.append((contour.item, k))
    return placement


def _newell_normal(points: FloatArray) -> FloatArray:
    """Area-weighted normal (3,) of a closed polygon (N, 3); its length is twice the area."""
    following = np.roll(points, -1, axis=0)
    return np.asarray(np.cross(points, following).sum(axis=0), dtype=np.float64)


def _in_plane_axes(normal: FloatArray) -> tuple[FloatArray, FloatArray]:
    """Row and column directions of a grid with this slice normal: the row direction is LPS x
    projected on the plane (y for near-sagittal planes), and row x column = normal."""
    axis = np.array([1.0, 0.0, 0.0]) if abs(normal[0]) < 0.9 else np.array([0.0, 1.0, 0.0])
    row = axis - (axis @ normal) * normal
    row /= np.linalg.norm(row)
    return row, np.cross(normal, row)


def native_grid(
    contours: Sequence[Contour],
    spacing: tuple[float, float, float] | None,
    frame_of_reference_uid: str,
    max_voxels: int,
) -> VolumeGeometry:
    """A grid around ``contours``, its slices on their planes.

    ``spacing`` is (row direction, column direction, normal) in mm: x, y, z for axial contours.
    Without it the in-plane spacing is :data:`DEFAULT_NATIVE_SPACING` and the slice step the
    median gap between the contour planes. Voxel centres sit on multiples of the in-plane
    spacing; :data:`NATIVE_MARGIN` empty voxels surround the contours. 413 above
    ``max_voxels``, before anything of the grid's size is allocated.
    """
    if not contours:
        raise UnprocessableError(
            "No contours", "no ROI has CLOSED_PLANAR contours to build a native grid around"
        )
    normals = [_newell_normal(contour.points) for contour in contours]
    normal = max(normals, key=lambda vector: float(np.linalg.norm(vector)))
    if not np.linalg.norm(normal) > 0:
        raise UnprocessableError("Degenerate contours", "every contour has zero area")
    normal = normal / np.linalg.norm(normal)
    normal *= np.sign(normal[np.argmax(np.abs(normal))])
    row, column = _in_plane_axes(normal)
    points = np.concatenate([contour.points for contour in contours])
    planes = np.unique(np.round([float(np.mean(c.points @ normal)) for c in contours], 2))
    if spacing is not None:
        step_x, step_y, step_z = spacing
    else:
        gaps = np.diff(planes)
        step_x = step_y = DEFAULT_NATIVE_SPACING
        step_z = float(np.median(gaps)) if gaps.size else DEFAULT_NATIVE_SPACING
    u, v = points @ row, points @ column
    u0 = (np.floor(u.min() / step_x) - NATIVE_MARGIN) * step_x
    v0 = (np.floor(v.min() / step_y) - NATIVE_MARGIN) * step_y
    w0 = planes[0] - NATIVE_MARGIN * step_z
    columns = int(np.floor((u.max() - u0) / step_x)) + 1 + NATIVE_MARGIN
    rows = int(np.floor((v.max() - v0) / step_y)) + 1 + NATIVE_MARGIN
    slices = int(np.round((planes[-1] - planes[0]) / step_z)) + 1 + 2 * NATIVE_MARGIN
    check_voxel_limit((slices, rows, columns), max_voxels)
    origin = u0 * row + v0 * column + w0 * normal
    affine = np.eye(4)
    affine[:3, 0] = row * step_x
    affine[:3, 1] = column * step_y
    affine[:3, 2] = normal * step_z
    affine[:3, 3] = origin
    positions = origin + np.arange(slices)[:, np.newaxis] * step_z * normal
    return VolumeGeometry((slices, rows, columns), affine, frame_of_reference_uid, positions)
