"""Volume grids in patient coordinates (LPS millimetres).

Conventions, used everywhere in segmesh:

- A volume array is indexed ``[k, j, i]``: slice, row, column. Its shape is
  ``(slices, rows, columns)``.
- ``affine`` is 4x4 and maps ``[i, j, k, 1]`` (column, row, slice) to LPS millimetres at the
  voxel's centre.
- PixelSpacing is (row spacing, column spacing): the distance between rows comes first.
- Slices are ordered by ImagePositionPatient projected on the slice normal
  (row direction x column direction), never by InstanceNumber or SliceLocation.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, overload

import numpy as np
import numpy.typing as npt
from pydicom.dataset import Dataset

from .dicom.attributes import (
    decimal_values,
    direction_cosines,
    first_item,
    float_values,
    functional_group_item,
    pixel_spacing,
    text_value,
    unsigned_short,
)
from .errors import UnprocessableError

FloatArray = npt.NDArray[np.float64]

#: Largest difference between two direction cosines still taken as the same orientation.
ORIENTATION_TOLERANCE = 1e-3
#: Relative deviation of a slice step from the mean step above which spacing is non-uniform.
SPACING_TOLERANCE = 0.01


@dataclass(frozen=True)
class Plane:
    """One image plane: a frame of a multi-frame object or a single-frame image.

    ``position`` is ImagePositionPatient (3,), ``orientation`` ImageOrientationPatient (6,),
    ``pixel_spacing`` (row spacing, column spacing) in mm; ``source`` is (dataset index, frame
    index) of where the plane came from.
    """

    position: FloatArray
    orientation: FloatArray
    pixel_spacing: FloatArray
    rows: int
    columns: int
    source: tuple[int, int] = (0, 0)

    def __reduce__(self) -> tuple[Any, ...]:
        # Pickled as floats: numpy pickles each small array at more cost than the plane's own
        # (the 300 planes a worker sends back with a label map: 3 ms, against 1 ms so).
        values = (self.position.tolist(), self.orientation.tolist(), self.pixel_spacing.tolist())
        return (_unpickled_plane, (*values, self.rows, self.columns, self.source))


def _unpickled_plane(
    position: list[float],
    orientation: list[float],
    pixel_spacing: list[float],
    rows: int,
    columns: int,
    source: tuple[int, int],
) -> Plane:
    return Plane(
        np.array(position), np.array(orientation), np.array(pixel_spacing), rows, columns, source
    )


@dataclass(frozen=True, eq=False)
class VolumeGeometry:
    """A grid of voxels in a frame of reference.

    ``shape`` is (slices, rows, columns); ``affine`` 4x4 maps [i, j, k, 1] to LPS mm;
    ``slice_positions`` (slices, 3) holds each slice's ImagePositionPatient in order, which
    matters where slice spacing is not uniform (then the affine's slice axis is the mean step).
    """

    shape: tuple[int, int, int]
    affine: FloatArray
    frame_of_reference_uid: str
    slice_positions: FloatArray

    # The derived vectors are computed once (the overlay route asks for them on every image)
    # and read-only, so that no caller can change them for the others.

    @functools.cached_property
    def row_direction(self) -> FloatArray:
        """Unit vector along a row (increasing column index i), LPS."""
        return _read_only(_unit(self.affine[:3, 0]))

    @functools.cached_property
    def column_direction(self) -> FloatArray:
        """Unit vector along a column (increasing row index j), LPS."""
        return _read_only(_unit(self.affine[:3, 1]))

    @functools.cached_property
    def normal(self) -> FloatArray:
        """Slice normal: row direction x column direction, LPS."""
        return _read_only(_unit(np.cross(self.affine[:3, 0], self.affine[:3, 1])))

    @functools.cached_property
    def spacing(self) -> tuple[float, float, float]:
        """Voxel size in mm along (i, j, k): column spacing, row spacing, mean slice step."""
        norms = np.linalg.norm(self.affine[:3, :3], axis=0)
        return float(norms[0]), float(norms[1]), float(norms[2])

    @functools.cached_property
    def slice_offsets(self) -> FloatArray:
        """(slices,) distance of each slice along the normal, mm."""
        return _read_only(np.asarray(self.slice_positions @ self.normal, dtype=np.float64))

    @property
    def is_uniform(self) -> bool:
        """Whether the slices are equally spaced (within :data:`SPACING_TOLERANCE`)."""
        steps = np.diff(self.slice_offsets)
        if steps.size < 2:
            return True
        return bool(np.all(np.abs(steps - steps.mean()) <= SPACING_TOLERANCE * abs(steps.mean())))

    @property
    def voxel_count(self) -> int:
        """Number of voxels of one layer (Python integers: a wild grid cannot overflow)."""
        return math.prod(self.shape)

    def nearest_slice(self, position: npt.ArrayLike, tolerance: float) -> int | None:
        """Index k of the slice whose plane is nearest to ``position`` (3,), or None where the
        distance along the normal exceeds ``tolerance`` mm."""
        offset = float(np.asarray(position, dtype=np.float64) @ self.normal)
        distances = np.abs(self.slice_offsets - offset)
        k = int(np.argmin(distances))
        return k if distances[k] <= tolerance else None

    def index_to_lps(self, indices: npt.ArrayLike) -> FloatArray:
        """(N, 3) [i, j, k] indices to (N, 3) LPS mm; fractional k follows non-uniform slices."""
        ijk = np.atleast_2d(np.asarray(indices, dtype=np.float64))
        in_plane = ijk[:, :1] * self.affine[:3, 0] + ijk[:, 1:2] * self.affine[:3, 1]
        if self.is_uniform:
            origin = self.affine[:3, 3] + ijk[:, 2:3] * self.affine[:3, 2]
        else:
            k_grid = np.arange(self.shape[0], dtype=np.float64)
            origin = np.stack(
                [
                    _extrapolated(ijk[:, 2], k_grid, self.slice_positions[:, axis])
                    for axis in range(3)
                ],
                axis=1,
            )
        return np.asarray(in_plane + origin, dtype=np.float64)

    def lps_to_index(self, points: npt.ArrayLike) -> FloatArray:
        """(N, 3) LPS mm to (N, 3) fractional [i, j, k]; inverse of :meth:`index_to_lps`."""
        xyz = np.atleast_2d(np.asarray(points, dtype=np.float64))
        ijk = (np.linalg.inv(self.affine) @ np.c_[xyz, np.ones(len(xyz))].T).T[:, :3]
        if not self.is_uniform:
            ijk[:, 2] = _extrapolated(
                xyz @ self.normal, self.slice_offsets, np.arange(self.shape[0], dtype=np.float64)
            )
        return np.asarray(ijk, dtype=np.float64)

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready summary."""
        return {
            "Shape": list(self.shape),
            "Affine": self.affine.tolist(),
            "FrameOfReferenceUID": self.frame_of_reference_uid,
            "Spacing": list(self.spacing),
            "UniformSpacing": self.is_uniform,
        }


def _extrapolated(x: FloatArray, xp: FloatArray, fp: FloatArray) -> FloatArray:
    """Piecewise-linear ``fp(x)`` on increasing ``xp`` (at least two points), continued beyond
    the ends with the end segments' slopes: a mesh cap half a slice outside the first or last
    slice must not be pulled onto it, as :func:`numpy.interp` would."""
    y = np.interp(x, xp, fp)
    below, above = x < xp[0], x > xp[-1]
    y[below] = fp[0] + (x[below] - xp[0]) * (fp[1] - fp[0]) / (xp[1] - xp[0])
    y[above] = fp[-1] + (x[above] - xp[-1]) * (fp[-1] - fp[-2]) / (xp[-1] - xp[-2])
    return np.asarray(y, dtype=np.float64)


def _read_only(values: FloatArray) -> FloatArray:
    values.setflags(write=False)
    return values


def _unit(vector: FloatArray) -> FloatArray:
    return np.asarray(vector / np.linalg.norm(vector), dtype=np.float64)


def slice_normal(orientation: FloatArray) -> FloatArray:
    """The unit normal (3,) of ImageOrientationPatient (6,): row direction x column direction."""
    return _unit(np.cross(orientation[:3], orientation[3:]))


def _check_alike(planes: Sequence[Plane]) -> None:
    """:class:`UnprocessableError` naming the first plane whose orientation, size or pixel
    spacing differs from the first plane's. Checked on arrays of all planes at once: a check
    per plane took 0.012 s of a 300-slice series' label map."""
    first = planes[0]
    orientations = np.array([plane.orientation for plane in planes], dtype=np.float64)
    spacings = np.array([plane.pixel_spacing for plane in planes], dtype=np.float64)
    turned = np.max(np.abs(orientations - first.orientation), axis=1) > ORIENTATION_TOLERANCE
    resized = np.array([(p.rows, p.columns) != (first.rows, first.columns) for p in planes])
    spaced = ~np.all(np.isclose(spacings, first.pixel_spacing, rtol=1e-3), axis=1)
    odd = np.flatnonzero(turned | resized | spaced)
    if not odd.size:
        return
    index = int(odd[0])
    plane = planes[index]
    if turned[index]:
        raise UnprocessableError(
            "Mixed orientations",
            f"ImageOrientationPatient {plane.orientation.tolist()} differs from "
            f"{first.orientation.tolist()}",
        )
    if resized[index]:
        raise UnprocessableError(
            "Mixed image sizes",
            f"{plane.rows}x{plane.columns} differs from {first.rows}x{first.columns}",
        )
    raise UnprocessableError(
        "Mixed pixel spacings",
        f"PixelSpacing {plane.pixel_spacing.tolist()} differs from {first.pixel_spacing.tolist()}",
    )


def geometry_from_planes(
    planes: Sequence[Plane], frame_of_reference_uid: str, slice_thickness: float = 0.0
) -> tuple[VolumeGeometry, list[int]]:
    """Build the grid of ``planes`` and the order that sorts them along the normal.

    Returns the geometry and, for each slice k, the index of its plane in ``planes``.
    Raises :class:`UnprocessableError` for mixed orientations, sizes or spacings and for two
    planes at the same position. ``slice_thickness`` (mm) gives the slice step of a single plane.
    """
    if not planes:
        raise UnprocessableError("No image planes", "the object has no frames to place")
    first = planes[0]
    _check_alike(planes)
    row_direction = _unit(first.orientation[:3])
    column_direction = _unit(first.orientation[3:])
    normal = slice_normal(first.orientation)
    positions = np.array([plane.position for plane in planes], dtype=np.float64)
    offsets = positions @ normal
    order = [int(index) for index in np.argsort(offsets, kind="stable")]
    sorted_positions = positions[order]
    steps = np.diff(offsets[order])
    if steps.size and steps.min() < 1e-3:
        duplicate = int(np.argmin(steps))
        raise UnprocessableError(
            "Duplicate slice positions",
            f"two planes at {sorted_positions[duplicate].tolist()} mm",
        )
    if len(planes) > 1:
        slice_step = (sorted_positions[-1] - sorted_positions[0]) / (len(planes) - 1)
    else:
        slice_step = normal * (slice_thickness if slice_thickness > 0 else 1.0)
    affine = np.eye(4)
    affine[:3, 0] = row_direction * first.pixel_spacing[1]
    affine[:3, 1] = column_direction * first.pixel_spacing[0]
    affine[:3, 2] = slice_step
    affine[:3, 3] = sorted_positions[0]
    geometry = VolumeGeometry(
        shape=(len(planes), first.rows, first.columns),
        affine=affine,
        frame_of_reference_uid=frame_of_reference_uid,
        slice_positions=sorted_positions,
    )
    return geometry, order


def _frame_attribute(
    dataset: Dataset,
    per_frame: Dataset | None,
    shared: Dataset | None,
    sequence: str,
    keyword: str,
) -> Any:
    """An attribute of a functional group: per-frame first, then ``shared`` (the item of
    SharedFunctionalGroupsSequence), then top level."""
    item = functional_group_item(per_frame, shared, sequence, keyword)
    return decimal_values(item if item is not None else dataset, keyword)


def image_planes(dataset: Dataset, dataset_index: int = 0) -> list[Plane]:
    """The planes of one image object: one for a single-frame image, one per frame for
    enhanced multi-frame objects (functional groups). Raises :class:`UnprocessableError` where
    a plane has no position or orientation (e.g. a projection radiograph)."""
    rows = unsigned_short(dataset, "Rows")
    columns = unsigned_short(dataset, "Columns")
    per_frame_groups = dataset.get("PerFrameFunctionalGroupsSequence")
    shared = first_item(dataset, "SharedFunctionalGroupsSequence")
    frame_count = int(dataset.get("NumberOfFrames", 1) or 1)
    planes = []
    for frame in range(frame_count):
        per_frame = per_frame_groups[frame] if per_frame_groups else None
        position = _frame_attribute(
            dataset, per_frame, shared, "PlanePositionSequence", "ImagePositionPatient"
        )
        orientation = _frame_attribute(
            dataset, per_frame, shared, "PlaneOrientationSequence", "ImageOrientationPatient"
        )
        spacing = _frame_attribute(
            dataset, per_frame, shared, "PixelMeasuresSequence", "PixelSpacing"
        )
        if position is None or orientation is None or spacing is None:
            raise UnprocessableError(
                "No patient geometry",
                f"frame {frame + 1} has no ImagePositionPatient, ImageOrientationPatient or "
                "PixelSpacing (a projection image cannot be placed in 3-D)",
            )
        planes.append(
            Plane(
                position=float_values(position, 3, "ImagePositionPatient"),
                orientation=direction_cosines(orientation),
                pixel_spacing=pixel_spacing(spacing),
                rows=rows,
                columns=columns,
                source=(dataset_index, frame),
            )
        )
    return planes


def series_planes(datasets: Sequence[Dataset]) -> list[list[Plane]]:
    """:func:`image_planes` of each of ``datasets``, their index in it as their source."""
    return [image_planes(ds, index) for index, ds in enumerate(datasets)]


class ImageSeries(Sequence[Dataset]):
    """Image datasets whose planes are found once (:func:`series_planes`, on first use), for
    :func:`geometry_from_images` and for the caller who keeps them as well."""

    def __init__(self, datasets: Sequence[Dataset]) -> None:
        self.datasets = list(datasets)

    def __len__(self) -> int:
        return len(self.datasets)

    @overload
    def __getitem__(self, index: int) -> Dataset: ...

    @overload
    def __getitem__(self, index: slice) -> list[Dataset]: ...

    def __getitem__(self, index: int | slice) -> Dataset | list[Dataset]:
        return self.datasets[index]

    @functools.cached_property
    def planes(self) -> list[list[Plane]]:
        """The planes of each image (:func:`image_planes`)."""
        return series_planes(self.datasets)


#: Every attribute of an image :func:`geometry_from_images` and :func:`image_planes` read: a
#: worker reads only these of a series' headers (pydicom's ``specific_tags``).
GRID_KEYWORDS = (
    "FrameOfReferenceUID",
    "Rows",
    "Columns",
    "NumberOfFrames",
    "ImagePositionPatient",
    "ImageOrientationPatient",
    "PixelSpacing",
    "SpacingBetweenSlices",
    "SliceThickness",
    "SharedFunctionalGroupsSequence",
    "PerFrameFunctionalGroupsSequence",
)


def geometry_from_images(
    datasets: Sequence[Dataset],
) -> tuple[VolumeGeometry, list[tuple[int, int]]]:
    """The grid of an image series: single-frame images, or enhanced multi-frame objects.

    Returns the geometry and, for each slice k, (dataset index, frame index) of its source.
    """
    if not datasets:
        raise UnprocessableError("Empty series", "the referenced series holds no images")
    frame_of_reference_uids = {text_value(ds, "FrameOfReferenceUID") for ds in datasets}
    if len(frame_of_reference_uids) != 1 or "" in frame_of_reference_uids:
        raise UnprocessableError(
            "No single frame of reference",
            f"the images carry FrameOfReferenceUID {sorted(frame_of_reference_uids)}",
        )
    of_images = datasets.planes if isinstance(datasets, ImageSeries) else series_planes(datasets)
    planes = [plane for image in of_images for plane in image]
    thickness = float(
        datasets[0].get("SpacingBetweenSlices", 0) or datasets[0].get("SliceThickness", 0) or 0
    )
    geometry, order = geometry_from_planes(planes, frame_of_reference_uids.pop(), thickness)
    return geometry, [planes[index].source for index in order]
