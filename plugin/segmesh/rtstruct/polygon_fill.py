"""Exact even-odd filling of polygons at voxel centres (vectorised scanline, no rounding).

A voxel (row j, column i) is inside where a ray from its centre (i, j) towards +i crosses the
polygons' edges an odd number of times. Every edge of every polygon counts, so an inner polygon
cuts a hole, a keyhole polygon works and disjoint polygons add up: the result equals the XOR of
the polygons filled one by one. Edges are taken half-open in j ([min j, max j)), so a vertex on a
row of centres is counted once and horizontal edges not at all. Only crossings strictly right of
a centre (x > i) count, as in the classic PNPOLY test, which settles centres lying exactly on
an edge.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]


def _crossings(polygons: Sequence[FloatArray], rows: int) -> tuple[FloatArray, FloatArray]:
    """(row j, column i) of every crossing of a polygon edge with a row of voxel centres, for
    the rows 0 <= j < ``rows``; polygons are (N, 2) [i, j] arrays, implicitly closed."""
    starts = np.concatenate(polygons)
    ends = np.concatenate([np.roll(polygon, -1, axis=0) for polygon in polygons])
    low = np.minimum(starts[:, 1], ends[:, 1])
    high = np.maximum(starts[:, 1], ends[:, 1])
    # Rows j with low <= j < high, clipped to the image.
    first = np.clip(np.ceil(low), 0, rows)
    stop = np.clip(np.ceil(high), 0, rows)
    counts = (stop - first).astype(np.int64)
    crossing = counts > 0
    counts = counts[crossing]
    if counts.size == 0:
        empty = np.empty(0, dtype=np.float64)
        return empty, empty
    starts, ends, first = starts[crossing], ends[crossing], first[crossing]
    edge = np.repeat(np.arange(counts.size), counts)
    within = np.arange(edge.size) - np.repeat(np.cumsum(counts) - counts, counts)
    row = first[edge] + within
    x0, y0 = starts[edge, 0], starts[edge, 1]
    x1, y1 = ends[edge, 0], ends[edge, 1]
    column = x0 + (row - y0) * (x1 - x0) / (y1 - y0)
    return row, column


def fill_even_odd_box(
    polygons: Sequence[FloatArray], shape: tuple[int, int]
) -> tuple[int, int, BoolArray] | None:
    """The voxel centres inside ``polygons`` under the even-odd rule, within their bounding box.

    ``polygons`` are (N, 2) arrays of [column i, row j] index coordinates (voxel centres at
    integers), closed implicitly; parts outside the (rows, columns) ``shape`` are clipped.
    Returns (first row, first column, mask) with mask (box rows, box columns) bool, or None
    where no centre is inside.
    """
    rows, columns = shape
    polygons = [np.asarray(polygon, dtype=np.float64) for polygon in polygons if len(polygon)]
    if not polygons:
        return None
    row, column = _crossings(polygons, rows)
    if row.size == 0:
        return None
    # The crossings right of centre i (x > i) have the parity of those at x <= i, the count
    # per row being even: the parity toggles at i = ceil(x). Toggles left of the image apply
    # to the whole row, those right of it to nothing.
    toggle = np.clip(np.ceil(column), 0, columns).astype(np.int64)
    row_index = row.astype(np.int64)
    top, bottom = int(row_index.min()), int(row_index.max()) + 1
    left, right = int(toggle.min()), int(toggle.max())
    if right == left:
        return None
    width = right - left + 1
    flat = (row_index - top) * width + (toggle - left)
    counts = np.bincount(flat, minlength=(bottom - top) * width).reshape(bottom - top, width)
    parity = np.logical_xor.accumulate((counts & 1).astype(np.bool_), axis=1)
    return top, left, parity[:, : right - left]


def fill_even_odd(polygons: Sequence[FloatArray], shape: tuple[int, int]) -> BoolArray:
    """(rows, columns) mask of the voxel centres inside ``polygons`` under the even-odd rule;
    see :func:`fill_even_odd_box`."""
    mask = np.zeros(shape, dtype=np.bool_)
    box = fill_even_odd_box(polygons, shape)
    if box is not None:
        top, left, inside = box
        mask[top : top + inside.shape[0], left : left + inside.shape[1]] = inside
    return mask
