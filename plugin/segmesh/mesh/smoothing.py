"""Smoothing filters on a sparse neighbour matrix; each returns a new mesh.

Taubin alternates a shrinking and a larger inflating step, so volumes are kept;
plain Laplacian smoothing shrinks small structures."""

from __future__ import annotations

import numpy as np
from scipy import sparse

from .base import Mesh
from .options import Smoothing

#: Taubin's pass band: the shrinking step and the (larger, negative) inflating step.
TAUBIN_LAMBDA = 0.5


TAUBIN_MU = -0.53


LAPLACIAN_LAMBDA = 0.5


def _neighbour_average(mesh: Mesh) -> sparse.csr_matrix:
    """(N, N) row-normalised adjacency: (matrix @ vertices) is each vertex's neighbour mean.

    Edges in both directions as int32 indices and float32 ones where they fit: for a model of
    millions of triangles the (6 M,) edge arrays are the largest of the whole meshing."""
    n = len(mesh.vertices)
    faces = mesh.faces.astype(np.int32) if n < 2**31 else mesh.faces
    first, second, third = faces[:, 0], faces[:, 1], faces[:, 2]
    rows = np.concatenate([first, second, third, second, third, first])
    columns = np.concatenate([second, third, first, first, second, third])
    del faces
    ones = np.ones(len(rows), dtype=np.float32)
    adjacency = sparse.csr_matrix((ones, (rows, columns)), shape=(n, n))
    del rows, columns, ones
    # Each interior edge appears twice (once per face): binarise, in float64, and divide by
    # the degree row by row in place (a product with a diagonal matrix takes longer than the
    # matrix's construction).
    degree = np.diff(adjacency.indptr)
    adjacency.data = np.repeat(1.0 / np.maximum(degree, 1.0), degree)
    return adjacency


def smooth(mesh: Mesh, smoothing: Smoothing, iterations: int) -> Mesh:
    """A smoothed copy of ``mesh`` (umbrella operator; Taubin alternates lambda and mu)."""
    if smoothing is Smoothing.NONE or iterations == 0 or not len(mesh.faces):
        return mesh
    average = _neighbour_average(mesh)
    vertices = mesh.vertices.copy()
    steps = (TAUBIN_LAMBDA, TAUBIN_MU) if smoothing is Smoothing.TAUBIN else (LAPLACIAN_LAMBDA,)
    for _ in range(iterations):
        for factor in steps:
            # vertices += factor * (average @ vertices - vertices), without temporaries.
            step = average @ vertices
            step -= vertices
            step *= factor
            vertices += step
    return Mesh(vertices, mesh.faces)
