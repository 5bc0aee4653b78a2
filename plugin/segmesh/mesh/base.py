"""Triangle meshes in patient LPS millimetres: the type every mesh step takes and returns."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


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

    def _signed_tetra_volumes(self) -> FloatArray:
        a, b, c = (self.vertices[self.faces[:, n]] for n in range(3))
        return np.asarray(np.einsum("ij,ij->i", a, np.cross(b, c)) / 6.0, dtype=np.float64)

    @property
    def volume(self) -> float:
        """Enclosed volume in mm^3 (positive for outward normals)."""
        return float(self._signed_tetra_volumes().sum())

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
        normals = np.cross(b - a, c - a)
        lengths = np.linalg.norm(normals, axis=1, keepdims=True)
        return np.asarray(
            np.divide(normals, lengths, out=np.zeros_like(normals), where=lengths > 0)
        )

    @property
    def bounds(self) -> FloatArray:
        """(2, 3) minimum and maximum corner, LPS mm."""
        return np.asarray([self.vertices.min(axis=0), self.vertices.max(axis=0)])


def merge(meshes: Sequence[Mesh]) -> Mesh:
    """One mesh holding all of ``meshes`` (vertex indices shifted)."""
    offsets = np.cumsum([0, *(len(mesh.vertices) for mesh in meshes[:-1])])
    return Mesh(
        np.concatenate([mesh.vertices for mesh in meshes]),
        np.concatenate([mesh.faces + offset for mesh, offset in zip(meshes, offsets, strict=True)]),
    )
