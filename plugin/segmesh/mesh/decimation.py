"""Decimation (fast-simplification); returns a new mesh."""

from __future__ import annotations

import fast_simplification
import numpy as np

from .base import Mesh


def decimate(mesh: Mesh, fraction: float) -> Mesh:
    """A copy with about ``fraction`` of the triangles removed (fast-simplification)."""
    if fraction <= 0.0 or len(mesh.faces) < 8:
        return mesh
    vertices, faces = fast_simplification.simplify(
        mesh.vertices, mesh.faces.astype(np.int32), target_reduction=fraction
    )
    return Mesh(np.asarray(vertices, dtype=np.float64), np.asarray(faces, dtype=np.int64))


def decimate_to(mesh: Mesh, count: int) -> Mesh:
    """A copy of about ``count`` triangles (fast-simplification); ``mesh`` itself where it has
    no more than that."""
    if len(mesh.faces) <= count:
        return mesh
    vertices, faces = fast_simplification.simplify(
        mesh.vertices, mesh.faces.astype(np.int32), target_count=count
    )
    return Mesh(np.asarray(vertices, dtype=np.float64), np.asarray(faces, dtype=np.int64))
