"""Preparation for printing: cavities filled, a hollow shell with a drain hole, the largest
bodies kept (on a segment's voxels, before marching cubes), a target triangle count, a flat
base and a scale (on the finished mesh).

Parsed by :func:`segmesh.requests.mesh_fields.mesh_options` into :class:`Preparation`, held by
:class:`~segmesh.mesh.options.MeshOptions`. Directions are LPS: "down" (the side a print
stands on, where a base is cut and a drain hole is drilled) is inferior (-S) unless a base
says otherwise.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Any

import manifold3d
import numpy as np
import numpy.typing as npt
from scipy import ndimage

from ..errors import UnprocessableError
from ..geometry import VolumeGeometry
from ..labelmap import BoolArray
from .base import FloatArray, Mesh
from .decimation import decimate_to
from .threshold import keep_largest

Vector = tuple[float, float, float]

#: Unit vectors of the patient axes' letters, LPS (+x left, +y posterior, +z superior).
AXES: dict[str, Vector] = {
    "L": (1.0, 0.0, 0.0),
    "R": (-1.0, 0.0, 0.0),
    "P": (0.0, 1.0, 0.0),
    "A": (0.0, -1.0, 0.0),
    "S": (0.0, 0.0, 1.0),
    "I": (0.0, 0.0, -1.0),
}

#: Slices whose distance transform is computed at a time (bounded memory on a whole scan).
DISTANCE_SLAB = 64


@dataclass(frozen=True)
class Hollow:
    """A shell of ``wall_mm`` inside the surface; a drain hole of ``drain_mm`` diameter from
    the cavity's lowest point down through the wall, where given."""

    wall_mm: float
    drain_mm: float | None = None

    def to_json(self) -> dict[str, Any]:
        """JSON-ready parameters."""
        return {"WallMm": self.wall_mm, "DrainMm": self.drain_mm}


@dataclass(frozen=True)
class Base:
    """A flat base: the model cut by a plane, the side ``down`` (a unit LPS vector) points to
    removed. The plane passes through ``point`` (LPS mm) where given; else it lies
    ``offset_mm`` inside the model's extreme along ``down`` (``axis``, the letter of the
    side the base is on: "I" cuts the inferior end)."""

    down: Vector
    point: Vector | None = None
    axis: str | None = None
    offset_mm: float = 0.0

    def plane_offset(self, vertices: FloatArray) -> float:
        """The plane's distance from the origin along ``down``, mm."""
        if self.point is not None:
            return float(np.dot(self.point, self.down))
        return float((vertices @ np.asarray(self.down)).max()) - self.offset_mm

    def to_json(self) -> dict[str, Any]:
        """JSON-ready parameters, in the form they were asked in."""
        if self.point is not None:
            return {"Point": list(self.point), "Normal": list(self.down)}
        return {"Axis": self.axis, "OffsetMm": self.offset_mm}


@dataclass(frozen=True)
class Scale:
    """A uniform scale about the centre of the model's bounds: by ``factor``, or so that the
    largest extent is ``size_mm``."""

    factor: float | None = None
    size_mm: float | None = None

    @property
    def note(self) -> str:
        """How a stored model says it is scaled (no longer patient mm)."""
        if self.factor is not None:
            return f"Scaled x{self.factor:g}"
        return f"Scaled to {self.size_mm:g} mm"

    def to_json(self) -> dict[str, Any]:
        """JSON-ready parameters."""
        return {"Factor": self.factor} if self.factor is not None else {"SizeMm": self.size_mm}


@dataclass(frozen=True)
class Preparation:
    """What is done to a model for printing; nothing by default.

    On each segment's voxels: ``keep_largest`` bodies (6-connectivity), ``fill_cavities``,
    ``hollow`` (cavities filled first). On the finished mesh: ``target_triangles`` (about),
    ``base``, ``scale``, in that order (the cap of a base stays exactly flat)."""

    fill_cavities: bool = False
    hollow: Hollow | None = None
    keep_largest: int | None = None
    target_triangles: int | None = None
    base: Base | None = None
    scale: Scale | None = None

    @property
    def down(self) -> FloatArray:
        """(3,) the unit LPS direction a print stands towards: the base's, else inferior."""
        return np.asarray(self.base.down if self.base else AXES["I"], dtype=np.float64)

    @property
    def scale_note(self) -> str:
        """How a stored model says it is scaled; empty where it is not."""
        return self.scale.note if self.scale else ""

    def for_parts(self) -> Preparation:
        """The steps of each part of a merged model: its voxels' (the mesh's steps are the
        whole model's)."""
        return replace(self, target_triangles=None, base=None, scale=None)

    def voxels(
        self, mask: BoolArray, origin: tuple[int, int, int], geometry: VolumeGeometry
    ) -> tuple[BoolArray, tuple[int, int, int]]:
        """The prepared crop of ``mask`` (slices, rows, columns) whose voxel [0, 0, 0] is
        ``origin`` (k, j, i) of ``geometry``: padded by one empty voxel (so that background
        touching the box's faces is outside), with that padded crop's origin. ``mask`` itself
        where nothing is asked of the voxels."""
        if not (self.fill_cavities or self.hollow or self.keep_largest):
            return mask, origin
        padded = np.pad(mask, 1)
        start = (origin[0] - 1, origin[1] - 1, origin[2] - 1)
        if self.keep_largest:
            padded = keep_largest(padded, self.keep_largest)
        if self.fill_cavities or self.hollow:
            padded = filled(padded)
        if self.hollow:
            spacing = geometry.spacing[::-1]
            shell = padded & within_distance_of_outside(padded, spacing, self.hollow.wall_mm)
            if self.hollow.drain_mm and (cavity := padded & ~shell).any():
                drill_drain(shell, cavity, start, geometry, self.down, self.hollow)
            padded = shell
        return padded, start

    def shape(self, mesh: Mesh) -> Mesh:
        """The finished mesh's steps: target triangle count, base, scale."""
        if self.target_triangles:
            mesh = decimate_to(mesh, self.target_triangles)
        if self.base:
            mesh = cut_base(mesh, self.base)
        if self.scale:
            mesh = scaled(mesh, self.scale)
        return mesh

    def to_json(self) -> dict[str, Any]:
        """The options asked for (defaults left out, so that plain models keep their UIDs)."""
        asked: dict[str, Any] = {
            "FillCavities": self.fill_cavities or None,
            "Hollow": self.hollow.to_json() if self.hollow else None,
            "KeepLargest": self.keep_largest,
            "TargetTriangles": self.target_triangles,
            "Base": self.base.to_json() if self.base else None,
            "Scale": self.scale.to_json() if self.scale else None,
        }
        return {key: value for key, value in asked.items() if value is not None}


def filled(mask: BoolArray) -> BoolArray:
    """``mask`` with every background region not connected (6-connectivity) to its corner
    voxel [0, 0, 0] filled: its closed cavities, where ``mask`` is padded by one empty voxel."""
    labels, _ = ndimage.label(~mask)
    return np.asarray(labels != labels[0, 0, 0])


def within_distance_of_outside(
    mask: BoolArray, spacing: tuple[float, float, float], distance_mm: float
) -> BoolArray:
    """Voxels of ``mask`` (padded: every slice has background) whose centre lies within
    ``distance_mm`` of a background voxel's centre, ``spacing`` (k, j, i) mm per voxel.

    The Euclidean distance transform runs on slabs of :data:`DISTANCE_SLAB` slices with the
    slices within ``distance_mm`` either side: exact for every distance up to that, and its
    float64 distances and indices are held for a slab only, never for the whole crop."""
    near = np.zeros_like(mask)
    margin = math.ceil(distance_mm / spacing[0]) + 1
    slices = mask.shape[0]
    for start in range(0, slices, DISTANCE_SLAB):
        low, high = max(0, start - margin), min(slices, start + DISTANCE_SLAB + margin)
        distances = ndimage.distance_transform_edt(mask[low:high], sampling=spacing)
        stop = min(slices, start + DISTANCE_SLAB)
        near[start:stop] = distances[start - low : stop - low] <= distance_mm
    return near


def drill_drain(
    shell: BoolArray,
    cavity: BoolArray,
    origin: tuple[int, int, int],
    geometry: VolumeGeometry,
    down: FloatArray,
    hollow: Hollow,
) -> None:
    """Clear from ``shell`` (in place) a cylinder of ``hollow.drain_mm`` diameter along
    ``down`` from the lowest point of ``cavity`` through the wall: both (slices, rows,
    columns) crops whose voxel [0, 0, 0] is ``origin`` (k, j, i) of ``geometry``."""
    bottom = lowest_voxels(cavity, geometry, down)
    seed_lps = geometry.index_to_lps(bottom + np.asarray(origin[::-1]))
    seed = np.rint(bottom[::-1]).astype(int)  # (k, j, i) in the crop
    radius = (hollow.drain_mm or 0.0) / 2.0
    # Twice the wall and two voxels: through a wall met at a slant too; the hole starts a
    # voxel inside the cavity, so that the two meet.
    length, behind = 2.0 * hollow.wall_mm + 2.0 * max(geometry.spacing), min(geometry.spacing)
    reach = [math.ceil((length + radius) / size) + 1 for size in geometry.spacing[::-1]]
    window = tuple(
        slice(max(0, seed[axis] - reach[axis]), min(shell.shape[axis], seed[axis] + reach[axis]))
        for axis in range(3)
    )
    k, j, i = np.meshgrid(*(np.arange(s.start, s.stop) for s in window), indexing="ij")
    ijk = np.stack([i.ravel(), j.ravel(), k.ravel()], axis=1) + np.asarray(origin[::-1])
    offsets = geometry.index_to_lps(ijk) - seed_lps
    along = offsets @ down
    across = np.linalg.norm(offsets - along[:, None] * down, axis=1)
    hole = (along >= -behind) & (along <= length) & (across <= radius)
    shell[window] &= ~hole.reshape(k.shape)


def lowest_voxels(mask: BoolArray, geometry: VolumeGeometry, down: FloatArray) -> FloatArray:
    """(3,) fractional (i, j, k) of ``mask``: the middle of its voxels lowest along ``down``
    (within half a voxel), a pole rather than its edge. Two passes, slice by slice: no
    array of every voxel's indices."""
    # Height along ``down`` is linear in the indices (the affine's mean slice step).
    weights = geometry.affine[:3, :3].T @ down  # per i, j, k
    rows_of, columns_of = (np.arange(n, dtype=np.float64) for n in mask.shape[1:])
    plane_heights = rows_of[:, None] * weights[1] + columns_of[None, :] * weights[0]
    slices = np.flatnonzero(mask.any(axis=(1, 2)))
    tops = np.array([plane_heights[mask[k]].max() + k * weights[2] for k in slices])
    lowest = float(tops.max()) - 0.5 * min(geometry.spacing)
    points = []
    for k in slices[tops >= lowest]:
        rows, columns = np.nonzero(mask[k] & (plane_heights + k * weights[2] >= lowest))
        points.append(np.stack([columns, rows, np.full(len(rows), k)], axis=1))
    return np.asarray(np.concatenate(points).mean(axis=0), dtype=np.float64)


def cut_base(mesh: Mesh, base: Base) -> Mesh:
    """``mesh`` cut by ``base``'s plane with manifold3d: a closed mesh whose cap lies on the
    plane (to rounding). 422 where the mesh is not a closed manifold, or nothing is left."""
    down = np.asarray(base.down, dtype=np.float64)
    offset = base.plane_offset(mesh.vertices)
    solid = manifold3d.Manifold(
        manifold3d.Mesh64(
            np.ascontiguousarray(mesh.vertices, dtype=np.float64),
            np.ascontiguousarray(mesh.faces, dtype=np.uint64),
        )
    )
    if solid.status() != manifold3d.Error.NoError:
        raise UnprocessableError(
            "Base not cut", f"the mesh is not a closed manifold ({solid.status().name})"
        )
    # trim_by_plane keeps the side its normal points to: the side away from ``down``.
    kept = solid.trim_by_plane(tuple(-down), -offset).to_mesh64()
    faces = np.asarray(kept.tri_verts, dtype=np.int64)
    if not len(faces):
        raise UnprocessableError("Nothing left", "the base's plane removes the whole model")
    vertices = np.asarray(kept.vert_properties, dtype=np.float64)[:, :3]
    return Mesh(np.ascontiguousarray(vertices), faces)


def scaled(mesh: Mesh, scale: Scale) -> Mesh:
    """``mesh`` scaled about the centre of its bounds."""
    low, high = mesh.bounds
    factor = scale.factor or (scale.size_mm or 0.0) / float((high - low).max())
    centre = (low + high) / 2.0
    vertices: npt.NDArray[np.float64] = centre + (mesh.vertices - centre) * factor
    return Mesh(vertices, mesh.faces)
