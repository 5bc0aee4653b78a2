"""Whether a model can be printed: closed, manifold, outward, its bodies, size and thinnest wall.

Manifoldness is manifold3d's verdict (an oriented 2-manifold, what slicers need); the shells
(connected surfaces) are found on the mesh's vertex graph, each with its signed volume and
box. A shell of negative volume inside the box of a positive one is a cavity of that body
(its normals point into the cavity, away from the material, as they should); any other
negative shell is wound inside out. The thinnest wall is estimated from the voxels the model
was made of (:func:`thinnest_wall`), not from the mesh.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import manifold3d
import numpy as np
from scipy import ndimage
from scipy.sparse import coo_matrix, csr_matrix
from scipy.sparse.csgraph import connected_components

from ..errors import UnprocessableError
from ..geometry import VolumeGeometry
from ..labelmap import BoolArray
from .base import (
    SORTED_EDGES_LIMIT,
    FloatArray,
    IntArray,
    Mesh,
    paired_edges,
)
from .surfaces import SegmentCrop

#: Crops above this many voxels (256^3) get no wall estimate: its distance transform and
#: nearest outside voxels take about 30 bytes a voxel.
MAX_WALL_VOXELS = 1 << 24

#: Side of the neighbourhood a ridge voxel's distance is the largest in: 3 would also take
#: voxels of a surface's staircase (their inner neighbours as far from the outside as they).
RIDGE_SIZE = 5

Point = tuple[float, float, float]


@dataclass(frozen=True)
class Printability:
    """The report: ``closed`` (no edge on one face only), ``manifold`` (manifold3d), normals
    outward, ``bodies`` (shells minus cavities), volume ml, area cm^2, box (LPS mm) and the
    thinnest wall in mm (None where not estimated)."""

    closed: bool
    manifold: bool
    outward_normals: bool
    bodies: int
    volume_ml: float
    area_cm2: float
    bounds_min: Point
    bounds_max: Point
    thinnest_wall_mm: float | None

    @property
    def printable(self) -> bool:
        """Closed, manifold and outward."""
        return self.closed and self.manifold and self.outward_normals

    def problems(self) -> list[str]:
        """What is wrong, in words (empty where printable)."""
        named = [
            (self.closed, "not closed"),
            (self.manifold, "not manifold"),
            (self.outward_normals, "normals not outward"),
        ]
        return [text for good, text in named if not good]

    def to_json(self) -> dict[str, Any]:
        """The ``Printability`` object of the routes' answers."""
        low, high = np.asarray(self.bounds_min), np.asarray(self.bounds_max)
        return {
            "Closed": self.closed,
            "Manifold": self.manifold,
            "OutwardNormals": self.outward_normals,
            "Bodies": self.bodies,
            "VolumeMl": self.volume_ml,
            "AreaCm2": self.area_cm2,
            "BoundsMm": {
                "Min": _rounded(low),
                "Max": _rounded(high),
                "Size": _rounded(high - low),
            },
            "ThinnestWallMm": self.thinnest_wall_mm,
        }


def _rounded(values: FloatArray) -> list[float]:
    return [round(float(v), 3) for v in values]


def printability(mesh: Mesh, thinnest_wall_mm: float | None) -> Printability:
    """The report of ``mesh``, with the wall estimated beforehand (see :func:`thinnest_wall`)."""
    vertices, faces = mesh.vertices, mesh.faces
    paired = _paired_edges(vertices, faces, mesh)
    bounds = mesh.bounds
    volumes, boxes = _shells(mesh, paired, bounds)
    positive = volumes > 0
    outer = boxes[positive]
    # A loop over the negative shells only, each against every positive box at once: a noisy
    # threshold model holds thousands of shells.
    cavities = sum(
        1
        for low, high in boxes[~positive]
        if bool(((outer[:, 0] <= low).all(axis=1) & (outer[:, 1] >= high).all(axis=1)).any())
    )
    return Printability(
        # Paired edges are closed too: the unique of all edges is only needed where they are not.
        closed=paired or _closed(faces, len(vertices)),
        manifold=paired or _manifold(vertices, faces),
        outward_normals=bool(mesh.volume > 0 and cavities == int((~positive).sum())),
        bodies=len(volumes) - cavities,
        volume_ml=round(mesh.volume / 1000.0, 3),
        area_cm2=round(mesh.area / 100.0, 3),
        bounds_min=_point(bounds[0]),
        bounds_max=_point(bounds[1]),
        thinnest_wall_mm=thinnest_wall_mm,
    )


def _point(values: FloatArray) -> Point:
    return float(values[0]), float(values[1]), float(values[2])


def _closed(faces: IntArray, vertex_count: int) -> bool:
    """Whether every edge is on two faces or more (none on the open rim of a hole)."""
    a, b = faces.ravel(), np.roll(faces, -1, axis=1).ravel()
    keys = np.minimum(a, b) * vertex_count + np.maximum(a, b)
    _, counts = np.unique(keys, return_counts=True)
    return bool((counts >= 2).all())


def _paired_edges(vertices: FloatArray, faces: IntArray, mesh: Mesh | None = None) -> bool:
    """Whether every edge of ``faces`` is on exactly two faces, once in each direction
    (:func:`~segmesh.mesh.base.paired_edges`, or the :attr:`~Mesh.paired` of ``mesh``, these
    arrays' mesh, where given: smoothing found it already), and every corner is a finite
    vertex (as float32): then manifold3d finds nothing wrong (it pairs each half edge with its
    one reverse). False says nothing."""
    count = len(vertices)
    limit = float(np.finfo(np.float32).max)
    if not len(faces) or int(faces.min()) < 0 or int(faces.max()) >= count:
        return False
    # min() and max() propagate a NaN; inf or a float32 overflow fail the bounds.
    if not -limit < float(vertices.min()) <= float(vertices.max()) < limit:
        return False
    return paired_edges(faces, count) if mesh is None else mesh.paired


def _manifold(vertices: FloatArray, faces: IntArray) -> bool:
    """manifold3d's verdict: an oriented 2-manifold (every edge on exactly two faces, in
    opposite directions). Asked only where :func:`_paired_edges` does not already say yes:
    manifold3d's copy of a large mesh takes several times its arrays."""
    solid = manifold3d.Manifold(
        manifold3d.Mesh(
            vert_properties=np.ascontiguousarray(vertices, dtype=np.float32),
            tri_verts=np.ascontiguousarray(faces, dtype=np.uint32),
        )
    )
    return bool(solid.status() == manifold3d.Error.NoError)


def _components(mesh: Mesh, paired: bool) -> tuple[int, IntArray]:
    """The number of connected components of the graph of ``mesh``'s edges, and (N,) each
    vertex's component; ``paired``: whether the edges pair (:func:`_paired_edges`)."""
    faces, count = mesh.faces, len(mesh.vertices)
    if paired and len(faces) <= SORTED_EDGES_LIMIT:
        # Each edge both ways, sorted (a symmetric graph, whose strong components are its
        # components): no transpose to build for an undirected search, which took longer
        # than the rest on a small model.
        row_starts, ends = mesh.sorted_edges
        graph = csr_matrix((np.ones(len(ends)), ends, row_starts), shape=(count, count))
        components, labels = connected_components(graph, directed=True, connection="strong")
        return int(components), labels
    # int32 indices where they fit: the edge arrays of a scan's mesh are its largest here.
    index = np.int32 if count < 2**31 else np.int64
    if paired:
        # Each edge once, as its half edge a -> b with a < b (b -> a is on another face): the
        # same connections as two edges a face, with three quarters of their arrays.
        halves = [(faces[:, n], faces[:, (n + 1) % 3]) for n in range(3)]
        rows = np.concatenate([a[a < b].astype(index) for a, b in halves])
        columns = np.concatenate([b[a < b].astype(index) for a, b in halves])
    else:
        rows = faces[:, :2].astype(index).ravel()
        columns = faces[:, 1:].astype(index).ravel()
    edges = coo_matrix((np.ones(len(rows), dtype=np.int8), (rows, columns)), shape=(count, count))
    del rows, columns
    components, labels = connected_components(edges, directed=False)
    return int(components), labels


def _shells(
    mesh: Mesh, paired: bool, bounds: FloatArray | None = None
) -> tuple[FloatArray, FloatArray]:
    """(S,) signed volume mm^3 and (S, 2, 3) box (min, max corner) of each connected shell,
    in no particular order; ``paired``: whether the edges pair (:func:`_paired_edges`);
    ``bounds``: (2, 3) the mesh's (:attr:`Mesh.bounds`) where known already."""
    faces, count = mesh.faces, len(mesh.vertices)
    components, labels = _components(mesh, paired)
    if components == 1 and len(faces):
        # One shell holds every vertex (each on a face): the mesh's volume (its sign, the only
        # thing the report takes of it, the sum's whatever the order) and bounds.
        return np.asarray([mesh.volume]), (mesh.bounds if bounds is None else bounds)[np.newaxis]
    # The vertices faces use, in order (np.unique of the faces, without sorting 3 M corners).
    marked = np.zeros(count, dtype=bool)
    marked[faces] = True
    used = np.flatnonzero(marked)
    del marked
    # Labels of the vertices faces use, renumbered 0..S-1 (unused vertices are no shell).
    shell_ids, inverse = np.unique(labels[used], return_inverse=True)
    vertex_shell = np.full(count, -1, dtype=np.int64)
    vertex_shell[used] = inverse
    face_shell = vertex_shell[faces[:, 0]]
    volumes = np.bincount(
        face_shell, weights=mesh._signed_tetra_volumes(), minlength=len(shell_ids)
    )
    order = np.argsort(vertex_shell[used], kind="stable")
    points = mesh.vertices[used[order]]
    starts = np.searchsorted(vertex_shell[used][order], np.arange(len(shell_ids)))
    boxes = np.stack(
        [np.minimum.reduceat(points, starts), np.maximum.reduceat(points, starts)], axis=1
    )
    return np.asarray(volumes, dtype=np.float64), boxes


def thinnest_wall(mask: BoolArray, spacing: Sequence[float]) -> float | None:
    """The thinnest wall in mm of ``mask`` (slices, rows, columns) of voxel ``spacing`` (mm
    along slices, rows, columns); None where empty or above :data:`MAX_WALL_VOXELS`.

    The smallest thickness found on the mask's medial ridge (voxels whose distance to the
    outside is the largest of their neighbourhood), from a Euclidean distance transform: a
    ridge voxel at distance d from the nearest outside voxel's centre lies in a wall between
    2 d - h (the ridge a voxel, the wall's voxels an odd count across) and 2 d (the ridge
    between two voxels), h the grid's step towards that outside voxel; taken as 2 d - h / 2,
    within half a step of the thickness of the model's surface, half a voxel out from the
    last voxel inside. A solid ball answers about its diameter.
    """
    if mask.size > MAX_WALL_VOXELS or not mask.any():
        return None
    steps = np.asarray(spacing, dtype=np.float64)
    distances, nearest = ndimage.distance_transform_edt(
        np.pad(mask, 1), sampling=tuple(steps), return_indices=True
    )
    peaks = ndimage.maximum_filter(distances, size=RIDGE_SIZE, mode="constant")
    ridge = np.nonzero((distances == peaks) & (distances > 0))
    depth = distances[ridge]
    # (R, 3) unit vectors towards each ridge voxel's nearest outside voxel, in mm.
    towards = (nearest[(slice(None), *ridge)].T - np.stack(ridge, axis=1)) * steps
    towards /= depth[:, None]
    step = np.sqrt(((towards * steps) ** 2).sum(axis=1))
    return round(float((2.0 * depth - 0.5 * step).min()), 2)


def crops_thinnest_wall(crops: Sequence[SegmentCrop], geometry: VolumeGeometry) -> float | None:
    """:func:`thinnest_wall` of the union of ``crops`` on ``geometry`` (the voxels of one
    model, merged or not)."""
    column, row, slice_step = geometry.spacing
    spacing = (slice_step, row, column)
    if len(crops) == 1:
        return thinnest_wall(crops[0].mask, spacing)
    starts = np.min([crop.origin for crop in crops], axis=0)
    ends = np.max([np.add(crop.origin, crop.mask.shape) for crop in crops], axis=0)
    if int(np.prod(ends - starts)) > MAX_WALL_VOXELS:
        return None
    union = np.zeros(tuple(int(n) for n in ends - starts), dtype=bool)
    for crop in crops:
        k, j, i = (int(n) for n in np.subtract(crop.origin, starts))
        shape = crop.mask.shape
        union[k : k + shape[0], j : j + shape[1], i : i + shape[2]] |= crop.mask
    return thinnest_wall(union, spacing)


def welded(mesh: Mesh) -> Mesh:
    """``mesh`` with coincident vertices merged into one (an STL's three corners a face)."""
    vertices, inverse = np.unique(mesh.vertices, axis=0, return_inverse=True)
    return Mesh(vertices, inverse.reshape(-1)[mesh.faces])


def repaired(mesh: Mesh) -> Mesh:
    """``mesh`` with coincident vertices merged, degenerate and duplicate faces removed (what
    decimation and coarse sampling can leave), and unused vertices dropped."""
    merged = welded(mesh)
    faces = merged.faces
    a, b, c = faces[:, 0], faces[:, 1], faces[:, 2]
    faces = faces[(a != b) & (b != c) & (c != a)]
    _, first = np.unique(np.sort(faces, axis=1), axis=0, return_index=True)
    faces = faces[np.sort(first)]
    used, compact = np.unique(faces, return_inverse=True)
    return Mesh(merged.vertices[used], compact.reshape(faces.shape).astype(np.int64))


def checked(mesh: Mesh, thinnest_wall_mm: float | None, what: str) -> tuple[Mesh, Printability]:
    """``mesh`` and its report, repaired (:func:`repaired`) where not printable; 422 naming
    ``what`` (the model) and what is wrong where the repair does not make it printable."""
    report = printability(mesh, thinnest_wall_mm)
    if report.printable:
        return mesh, report
    fixed = repaired(mesh)
    if not len(fixed.faces):
        raise UnprocessableError("Model not printable", f"{what}: no face left once repaired")
    report = printability(fixed, thinnest_wall_mm)
    if not report.printable:
        raise UnprocessableError("Model not printable", f"{what}: {', '.join(report.problems())}")
    return fixed, report
