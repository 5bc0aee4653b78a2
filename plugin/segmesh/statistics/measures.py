"""Per-segment figures of a label map: volumes, surface, position, size and image values.

Every figure is computed on the segment's bounding box (:meth:`LabelMap.box`), never on the
whole volume per segment. Definitions (docs/rest-api.md, "Statistics: definitions against MIRP"):

- ``VolumeMl``: voxels x voxel volume, the voxel volume being |det| of the affine's 3x3 (the
  mean slice step where slices are unevenly spaced).
- ``MeshVolumeMl``, ``SurfaceAreaMm2``: the unsmoothed surface of :func:`segmesh.mesh.surface`
  (marching cubes at 0.5 of the mask padded by one empty voxel, vertices in LPS mm, following
  uneven slices): the mesh segmesh stores, before smoothing and decimation; summed per cube
  configuration (:func:`segmesh.mesh.surface_volume_and_area`) rather than built.
- ``CentroidLps``: the mean of the voxel centres; ``BoundsLps``: [[min x, y, z], [max x, y, z]]
  of the voxel centres (exact for any orientation), LPS mm.
- ``ExtentMm``: [along the row direction, along the column direction, along the slices], voxel
  edge to voxel edge: columns spanned x column spacing, rows spanned x row spacing, and the
  distance between the first and last slice's centres plus one slice step.
- ``Image``: Mean, Std (population, ddof=0), Min, P5, Median, P95, Max (numpy's linear
  percentiles) of the image values of the segment's voxels (:mod:`.image_values`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import numpy.typing as npt

from ..errors import UnprocessableError
from ..geometry import VolumeGeometry
from ..labelmap import Box, LabelMap, Segment, select_segments
from ..mesh import surface_volume_and_area
from .image_values import ImageFigures, image_figures

FloatArray = npt.NDArray[np.float64]

log = logging.getLogger(__name__)

#: ``layers[layer][box]`` of a label map's layers however they are held (say, read from a file
#: box by box rather than mapped: :meth:`segmesh.worker_io.packed_files.PackedArray.read_box`).
BoxValues = Callable[[int, Box], npt.NDArray[Any]]


@dataclass(frozen=True)
class SegmentStatistics:
    """Statistics of one segment; the position fields are None where it has no voxel.

    ``centroid_lps`` (3,) and ``bounds_lps`` (2, 3) are LPS mm, ``extent_mm`` (3,) mm along
    [row direction, column direction, slices]; ``image`` is None where no image was given.
    """

    number: int
    label: str
    layer: int
    voxels: int
    volume_ml: float
    mesh_volume_ml: float
    surface_area_mm2: float
    centroid_lps: FloatArray | None
    bounds_lps: FloatArray | None
    extent_mm: FloatArray
    image: ImageFigures | None


def segment_statistics(
    labelmap: LabelMap,
    numbers: Iterable[int] | None = None,
    image: npt.NDArray[Any] | None = None,
    box_values: BoxValues | None = None,
) -> list[SegmentStatistics]:
    """Statistics of the segments of ``numbers`` (all where None), in the label map's order.

    ``image`` (slices, rows, columns), int or float, already rescaled (HU for CT), on the label
    map's grid. ``box_values``: where each segment's box of its layer is read from, where not
    from ``labelmap.layers``. Raises 400 for unknown numbers, 422 for an image of another
    shape.
    """
    geometry = labelmap.geometry
    if image is not None and tuple(image.shape) != tuple(geometry.shape):
        raise UnprocessableError(
            "Image not on the label map's grid",
            f"image shape {tuple(image.shape)}, label map {tuple(geometry.shape)}",
        )
    wanted = select_segments(labelmap.segments, numbers, "the label map holds segments")
    values = box_values or (lambda layer, box: labelmap.layers[layer][box])
    results = [_statistics(labelmap, segment, values) for segment in wanted]
    log.debug("statistics of %d segments", len(results))
    if image is None:
        return results
    return with_image_figures(results, image_figures(labelmap, wanted, image))


def with_image_figures(
    statistics: Sequence[SegmentStatistics], figures: Sequence[ImageFigures | None]
) -> list[SegmentStatistics]:
    """``statistics`` with the image ``figures`` of the same segments, in the same order
    (:func:`~.image_values.image_figures`: they may be found apart, in another process)."""
    return [replace(s, image=f) for s, f in zip(statistics, figures, strict=True)]


def _statistics(labelmap: LabelMap, segment: Segment, values: BoxValues) -> SegmentStatistics:
    """One segment's statistics from its bounding box (:meth:`LabelMap.box`) of its layer's
    ``values``, without image."""
    geometry = labelmap.geometry
    box = labelmap.box(segment)
    if box is None:
        return SegmentStatistics(segment.number, segment.label, segment.layer, 0, 0.0, 0.0,
                                 0.0, None, None, np.zeros(3), None)  # fmt: skip
    mask = values(segment.layer, box) == segment.value
    start = np.array([box[0].start, box[1].start, box[2].start])
    rows = np.count_nonzero(mask, axis=2)  # (slices, rows) voxels of each row: one pass
    voxels = int(rows.sum())
    voxel_mm3 = abs(float(np.linalg.det(geometry.affine[:3, :3])))
    origin = (int(start[0]), int(start[1]), int(start[2]))
    mesh_mm3, area_mm2 = surface_volume_and_area(mask, geometry, origin)
    return SegmentStatistics(
        number=segment.number,
        label=segment.label,
        layer=segment.layer,
        voxels=voxels,
        volume_ml=voxels * voxel_mm3 / 1000.0,
        mesh_volume_ml=mesh_mm3 / 1000.0,
        surface_area_mm2=area_mm2,
        centroid_lps=_centroid(mask, rows, start, geometry),
        bounds_lps=_bounds(mask, rows, start, geometry),
        extent_mm=_extent(mask.shape, start, geometry),
        image=None,
    )


def _slice_points(geometry: VolumeGeometry, k: npt.NDArray[Any]) -> FloatArray:
    """(N, 3) LPS mm of voxel [0, 0, k] for each slice index ``k`` (N,): follows uneven
    slices."""
    ijk = np.zeros((len(k), 3))
    ijk[:, 2] = k
    return geometry.index_to_lps(ijk)


def _centroid(
    mask: npt.NDArray[np.bool_],
    rows: npt.NDArray[Any],
    start: npt.NDArray[Any],
    geometry: VolumeGeometry,
) -> FloatArray:
    """(3,) LPS mm mean of the voxel centres of ``mask`` (box whose voxel 0 is ``start`` k, j, i;
    ``rows`` (slices, rows) its voxel count of each row).

    In-plane the map is linear, so the mean index is mapped; along slices each slice's origin
    is weighted by its voxel count (exact for uneven slices too)."""
    per_slice = rows.sum(axis=1)
    n = per_slice.sum()
    j = float(np.dot(rows.sum(axis=0), np.arange(mask.shape[1]))) / n + start[1]
    per_column = np.count_nonzero(mask, axis=(0, 1))
    i = float(np.dot(per_column, np.arange(mask.shape[2]))) / n + start[2]
    origins = _slice_points(geometry, np.arange(mask.shape[0]) + start[0])
    in_plane = i * geometry.affine[:3, 0] + j * geometry.affine[:3, 1]
    return np.asarray(in_plane + (per_slice / n) @ origins, dtype=np.float64)


def _bounds(
    mask: npt.NDArray[np.bool_],
    rows: npt.NDArray[Any],
    start: npt.NDArray[Any],
    geometry: VolumeGeometry,
) -> FloatArray:
    """(2, 3) LPS mm [[min x, y, z], [max x, y, z]] of the voxel centres of ``mask``.

    Where each LPS axis follows one index axis (axial, sagittal, coronal grids), the extremes
    are at the tight box's corners. Otherwise a coordinate is linear in i along a row, so its
    extremes lie at the first or last voxel of some row: only those (2 x slices x rows at most)
    are mapped. Exact for any orientation."""
    linear = np.abs(geometry.affine[:3, :3])
    if np.all(np.count_nonzero(linear > 1e-9 * linear.max(), axis=0) == 1):
        corners = np.array([[0, 0, 0], np.array(mask.shape[::-1]) - 1]) + start[::-1]
        points = geometry.index_to_lps(corners)
        return np.stack([points.min(axis=0), points.max(axis=0)])
    filled = rows > 0
    first = np.argmax(mask, axis=2)[filled]
    last = mask.shape[2] - 1 - np.argmax(mask[:, :, ::-1], axis=2)[filled]
    k, j = np.nonzero(filled)
    ijk = np.concatenate([np.c_[first, j, k], np.c_[last, j, k]]) + start[::-1]
    points = geometry.index_to_lps(ijk)
    return np.stack([points.min(axis=0), points.max(axis=0)])


def _extent(
    shape: tuple[int, ...], start: npt.NDArray[Any], geometry: VolumeGeometry
) -> FloatArray:
    """(3,) mm [along rows, along columns, along slices] of a box of ``shape`` (k, j, i), voxel
    edge to voxel edge; along slices: first to last slice centre plus one slice step."""
    column_mm, row_mm, slice_mm = geometry.spacing
    ends = _slice_points(geometry, np.array([start[0], start[0] + shape[0] - 1]))
    across = float(np.linalg.norm(ends[1] - ends[0])) + slice_mm
    return np.array([shape[2] * column_mm, shape[1] * row_mm, across])
