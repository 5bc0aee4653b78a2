"""Where the frames of a SEG go on a grid: the SEG's own (native) grid, or a source series'.

Frames are placed by their PlanePositionSequence, never by their order in the file: each
frame's ImagePositionPatient gives its slice (along the normal) and its row and column offset
(in the plane), which must be whole pixels inside the grid.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from ..errors import UnprocessableError
from ..geometry import (
    ORIENTATION_TOLERANCE,
    Plane,
    VolumeGeometry,
    geometry_from_planes,
    slice_normal,
)
from ..labelmap import SlicePatch
from .frames import SegFrames
from .pixels import Patch

IntArray = npt.NDArray[np.int64]

#: Largest distance (pixels) of a frame's origin from a whole pixel of the grid.
IN_PLANE_TOLERANCE = 0.05
#: Largest distance of a frame from its slice, as a fraction of the slice step.
SLICE_TOLERANCE = 0.25
#: Positions closer than this along the normal (mm) are the same plane.
SAME_PLANE_MM = 0.01


def native_geometry(frames: SegFrames, frame_of_reference_uid: str) -> VolumeGeometry:
    """The SEG's own grid: its planes from the first to the last along the normal.

    Planes omitted because they were empty are filled in where the planes present are whole
    steps apart (the step is SpacingBetweenSlices where given, else the smallest gap).
    """
    offsets = frames.positions @ slice_normal(frames.orientation)
    order = np.argsort(offsets, kind="stable")
    keep = np.r_[True, np.diff(offsets[order]) > SAME_PLANE_MM]
    unique = order[keep]
    planes_offsets = offsets[unique]
    positions = frames.positions[unique]
    if len(unique) > 1:
        gaps = np.diff(planes_offsets)
        for step in (frames.slice_spacing, float(gaps.min())):
            if step <= SAME_PLANE_MM:
                continue
            multiples = (planes_offsets - planes_offsets[0]) / step
            if np.all(np.abs(multiples - np.round(multiples)) < 0.05):
                count = int(np.round(multiples[-1])) + 1
                grid_offsets = planes_offsets[0] + step * np.arange(count)
                positions = np.stack(
                    [np.interp(grid_offsets, planes_offsets, positions[:, a]) for a in range(3)],
                    axis=1,
                )
                break
    planes = [
        Plane(position, frames.orientation, frames.pixel_spacing, frames.rows, frames.columns)
        for position in positions
    ]
    return geometry_from_planes(planes, frame_of_reference_uid, frames.slice_spacing)[0]


@dataclass(frozen=True, eq=False)
class Placement:
    """For each frame: slice ``k``, first ``row`` and first ``column`` on the grid."""

    k: IntArray
    row: IntArray
    column: IntArray

    def origin(self, index: int, patch: Patch) -> tuple[int, int, int]:
        """Slice, row and column on the grid of the first pixel of ``patch`` of frame ``index``."""
        return (
            int(self.k[index]),
            int(self.row[index]) + patch.row,
            int(self.column[index]) + patch.column,
        )

    def patch(self, index: int, patch: Patch, threshold: float | None) -> SlicePatch | None:
        """The boolean grid patch of frame ``index``; FRACTIONAL values are inside at and above
        ``threshold``. None where nothing is inside."""
        mask = patch.values if threshold is None else patch.values >= threshold
        if threshold is not None and not mask.any():
            return None
        return SlicePatch(*self.origin(index, patch), np.asarray(mask, dtype=np.bool_))


def _misfit(frame: int, why: str) -> UnprocessableError:
    return UnprocessableError("Frames do not fit the grid", f"frame {frame + 1}: {why}")


def place_frames(frames: SegFrames, geometry: VolumeGeometry) -> Placement:
    """Slice, row and column of every frame on ``geometry``; 422 naming the first frame that is
    off the grid's orientation, spacing, planes or pixel lattice, or outside it."""
    row_direction = geometry.row_direction
    column_direction = geometry.column_direction
    if (
        np.max(np.abs(frames.orientation[:3] - row_direction)) > ORIENTATION_TOLERANCE
        or np.max(np.abs(frames.orientation[3:] - column_direction)) > ORIENTATION_TOLERANCE
    ):
        raise _misfit(
            0,
            f"ImageOrientationPatient {frames.orientation.tolist()} differs from the grid's "
            f"{np.r_[row_direction, column_direction].round(6).tolist()}",
        )
    column_spacing, row_spacing, _ = geometry.spacing
    if not np.allclose(frames.pixel_spacing, [row_spacing, column_spacing], rtol=1e-3):
        raise _misfit(
            0,
            f"PixelSpacing {frames.pixel_spacing.tolist()} differs from the grid's "
            f"{[row_spacing, column_spacing]}",
        )
    slice_offsets = geometry.slice_offsets
    offsets = frames.positions @ geometry.normal
    steps = np.diff(slice_offsets)
    step = float(steps.min()) if steps.size else max(geometry.spacing[2], 1.0)
    k = np.clip(np.searchsorted(slice_offsets, offsets), 0, len(slice_offsets) - 1)
    lower = np.clip(k - 1, 0, None)
    k = np.where(
        np.abs(slice_offsets[lower] - offsets) < np.abs(slice_offsets[k] - offsets), lower, k
    )
    far = np.flatnonzero(np.abs(slice_offsets[k] - offsets) > SLICE_TOLERANCE * step)
    if far.size:
        frame = int(far[0])
        raise _misfit(
            frame,
            f"ImagePositionPatient {frames.positions[frame].tolist()} lies on no slice of the "
            f"grid ({geometry.shape[0]} slices from {slice_offsets[0]:.3f} to "
            f"{slice_offsets[-1]:.3f} mm along the normal)",
        )
    in_plane = frames.positions - geometry.slice_positions[k]
    columns = in_plane @ row_direction / column_spacing
    rows = in_plane @ column_direction / row_spacing
    column = np.round(columns).astype(np.int64)
    row = np.round(rows).astype(np.int64)
    off_lattice = np.flatnonzero(
        (np.abs(columns - column) > IN_PLANE_TOLERANCE) | (np.abs(rows - row) > IN_PLANE_TOLERANCE)
    )
    if off_lattice.size:
        frame = int(off_lattice[0])
        raise _misfit(
            frame,
            f"its origin is {rows[frame]:.3f} rows, {columns[frame]:.3f} columns from the grid's "
            "origin: not a whole pixel",
        )
    _, grid_rows, grid_columns = geometry.shape
    outside = np.flatnonzero(
        (row < 0)
        | (column < 0)
        | (row + frames.rows > grid_rows)
        | (column + frames.columns > grid_columns)
    )
    if outside.size:
        frame = int(outside[0])
        raise _misfit(
            frame,
            f"{frames.rows}x{frames.columns} pixels at row {row[frame]}, column {column[frame]} "
            f"do not fit in the grid's {grid_rows}x{grid_columns}",
        )
    return Placement(k.astype(np.int64), row, column)
