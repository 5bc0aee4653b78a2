"""Triangle meshes in patient LPS millimetres: the type every mesh step takes and returns."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

#: Faces whose figures are computed at a time.
FACE_CHUNK = 1 << 18

#: Faces up to which :func:`directed_edges` (a sort) builds their edges' CSR structure faster
#: than scipy's conversion from COO (linear): a quarter of the time at a thousand faces,
#: the same at about 50,000.
SORTED_EDGES_LIMIT = 1 << 15


@dataclass(frozen=True, eq=False)
class Mesh:
    """A closed triangle mesh: ``vertices`` (N, 3) LPS mm, ``faces`` (M, 3) vertex indices,
    counter-clockwise seen from outside."""

    vertices: FloatArray
    faces: IntArray

    @property
    def triangle_count(self) -> int:
        """Number of triangles."""
        return len(self.faces)

    @cached_property
    def paired(self) -> bool:
        """Whether the faces' edges pair (:func:`paired_edges`). Cached, and kept by
        :meth:`moved`: smoothing asks, then the printability report of the smoothed mesh."""
        return paired_edges(self.faces, len(self.vertices))

    @cached_property
    def sorted_edges(self) -> tuple[npt.NDArray[np.int32], npt.NDArray[np.int32]]:
        """The faces' :func:`directed_edges` (each vertex's neighbours where :attr:`paired`),
        asked of small meshes only. Cached and kept likewise."""
        return directed_edges(self.faces, len(self.vertices))

    def moved(self, vertices: FloatArray) -> Mesh:
        """This mesh with ``vertices`` (N, 3) in place of its own: the same faces, and so the
        same edges, as far as they are known (:attr:`paired`, :attr:`sorted_edges`)."""
        moved = Mesh(vertices, self.faces)
        for name in ("paired", "sorted_edges"):
            if name in self.__dict__:
                moved.__dict__[name] = self.__dict__[name]
        return moved

    def _face_terms(self) -> tuple[FloatArray, FloatArray]:
        """(M,) six times each face's signed tetrahedron volume from the origin, a . (b x c),
        and (M,) twice its area, |(b - a) x (c - a)|.

        Coordinate by coordinate on contiguous columns: gathers of (N,) arrays by contiguous
        indices are several times faster than of (N, 3) rows, and these run for every model
        and every statistics row. In chunks of faces: the eighteen (M,) temporaries of a
        model of millions of triangles at once would take several times its file's size.
        Not cached (:attr:`_sums` is): a model's (M,) arrays would stay held through its
        writing.
        """
        x, y, z = (np.ascontiguousarray(self.vertices[:, axis]) for axis in range(3))
        volumes, areas = np.empty(len(self.faces)), np.empty(len(self.faces))
        for start in range(0, len(self.faces), FACE_CHUNK):
            faces = self.faces[start : start + FACE_CHUNK]
            a, b, c = (np.ascontiguousarray(faces[:, n]) for n in range(3))
            xa, ya, za = x[a], y[a], z[a]
            ux, uy, uz = x[b] - xa, y[b] - ya, z[b] - za
            vx, vy, vz = x[c] - xa, y[c] - ya, z[c] - za
            nx, ny, nz = uy * vz - uz * vy, uz * vx - ux * vz, ux * vy - uy * vx
            # a . ((b - a) x (c - a)) = a . (b x c): the same normal gives both figures.
            volumes[start : start + len(faces)] = xa * nx + ya * ny + za * nz
            areas[start : start + len(faces)] = np.sqrt(nx * nx + ny * ny + nz * nz)
        return volumes, areas

    @cached_property
    def _sums(self) -> tuple[float, float]:
        """The sums of :meth:`_face_terms`' two arrays. Cached: the mesh is immutable."""
        volumes, areas = self._face_terms()
        return float(volumes.sum()), float(areas.sum())

    def _signed_tetra_volumes(self) -> FloatArray:
        return np.asarray(self._face_terms()[0] / 6.0, dtype=np.float64)

    @property
    def volume(self) -> float:
        """Enclosed volume in mm^3 (positive for outward normals)."""
        return self._sums[0] / 6.0

    @property
    def area(self) -> float:
        """Surface area in mm^2: the sum of the faces' areas."""
        return 0.5 * self._sums[1]

    @property
    def centroid(self) -> FloatArray:
        """(3,) centre of the enclosed volume, LPS mm."""
        a, b, c = (self.vertices[self.faces[:, n]] for n in range(3))
        volumes = self._signed_tetra_volumes()
        return np.asarray(
            ((a + b + c) / 4.0 * volumes[:, None]).sum(axis=0) / volumes.sum(), dtype=np.float64
        )

    @property
    def face_normals(self) -> FloatArray:
        """(M, 3) unit normals of the faces (zero for degenerate faces)."""
        a, b, c = (self.vertices[self.faces[:, n]] for n in range(3))
        return triangle_normals(a, b, c)

    @property
    def bounds(self) -> FloatArray:
        """(2, 3) minimum and maximum corner, LPS mm."""
        return np.asarray([self.vertices.min(axis=0), self.vertices.max(axis=0)])


def triangle_normals(a: FloatArray, b: FloatArray, c: FloatArray) -> FloatArray:
    """(M, 3) unit normals of the triangles of corners ``a``, ``b``, ``c`` (each (M, 3)), zero
    where degenerate."""
    u, v = b - a, c - a
    # The cross product by components: np.cross is several times slower on (M, 3) arrays.
    normals = np.stack(
        [
            u[:, 1] * v[:, 2] - u[:, 2] * v[:, 1],
            u[:, 2] * v[:, 0] - u[:, 0] * v[:, 2],
            u[:, 0] * v[:, 1] - u[:, 1] * v[:, 0],
        ],
        axis=1,
    )
    lengths = np.sqrt(np.einsum("ij,ij->i", normals, normals))[:, None]
    return np.asarray(np.divide(normals, lengths, out=np.zeros_like(normals), where=lengths > 0))


def merge(meshes: Sequence[Mesh]) -> Mesh:
    """One mesh holding all of ``meshes`` (vertex indices shifted)."""
    offsets = np.cumsum([0, *(len(mesh.vertices) for mesh in meshes[:-1])])
    return Mesh(
        np.concatenate([mesh.vertices for mesh in meshes]),
        np.concatenate([mesh.faces + offset for mesh, offset in zip(meshes, offsets, strict=True)]),
    )


def paired_edges(faces: IntArray, vertex_count: int) -> bool:
    """Whether every edge of ``faces`` (indices below ``vertex_count``) is on exactly two
    faces, once in each direction, and no face repeats a corner: a closed, oriented
    2-manifold's edges.

    One sorted (3 M,) int64 array of keys (edge, direction), 24 bytes a triangle besides the
    sort's: at millions of triangles, manifold3d's copy of the mesh takes about 300."""
    if vertex_count >= 2**31:
        return False
    # Key of the half edge a -> b: (min(a, b) * vertex_count + max(a, b)) * 2 + (a < b).
    keys = np.empty(3 * len(faces), dtype=np.int64)
    for start in range(0, len(faces), FACE_CHUNK):
        chunk = faces[start : start + FACE_CHUNK]
        for corner in range(3):
            a, b = chunk[:, corner], chunk[:, (corner + 1) % 3]
            if bool((a == b).any()):
                return False
            low = np.minimum(a, b).astype(np.int64)
            low *= vertex_count
            low += np.maximum(a, b)
            low *= 2
            low += a < b
            keys[3 * start + corner : 3 * (start + len(chunk)) : 3] = low
    keys.sort()
    if len(keys) % 2:
        return False
    # Sorted, each edge's keys must come as a pair: its b -> a (even), then its a -> b (odd).
    for start in range(0, len(keys), 2 * FACE_CHUNK):
        pairs = keys[start : start + 2 * FACE_CHUNK].reshape(-1, 2)
        if bool((pairs[:, 0] & 1).any()) or not bool((pairs[:, 1] - pairs[:, 0] == 1).all()):
            return False
    return True


def directed_edges(
    faces: IntArray, vertex_count: int
) -> tuple[npt.NDArray[np.int32], npt.NDArray[np.int32]]:
    """The CSR structure of ``faces``' directed edges (a -> b, b -> c, c -> a of each face;
    ``vertex_count`` below 2^31): (vertex_count + 1,) int32 row starts and (3 M,) int32 end
    vertices, each row's in increasing order. For a closed, oriented 2-manifold
    (:func:`paired_edges`), each edge once each way: each vertex's neighbours, as scipy's
    canonical CSR of the edges holds them (one sort of (3 M,) keys (a << 32) + b instead of
    its COO conversion, duplicates summed and rows sorted: see :data:`SORTED_EDGES_LIMIT`)."""
    keys = faces.astype(np.int64)
    keys <<= 32
    keys += faces[:, [1, 2, 0]]
    keys = keys.ravel()
    keys.sort()
    keys &= 0xFFFFFFFF
    ends = keys.astype(np.int32)
    del keys
    starts = np.zeros(vertex_count + 1, dtype=np.int32)
    np.cumsum(np.bincount(faces.ravel(), minlength=vertex_count), out=starts[1:])
    return starts, ends
