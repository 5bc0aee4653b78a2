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
    """(N, N) row-normalised adjacency: (matrix @ vertices) is each vertex's neighbour mean."""
    edges = np.concatenate([mesh.faces[:, [0, 1]], mesh.faces[:, [1, 2]], mesh.faces[:, [2, 0]]])
    edges = np.concatenate([edges, edges[:, ::-1]])
    n = len(mesh.vertices)
    adjacency = sparse.csr_matrix((np.ones(len(edges)), (edges[:, 0], edges[:, 1])), shape=(n, n))
    # Each interior edge appears twice (once per face): binarise before normalising.
    adjacency.data[:] = 1.0
    degree = np.asarray(adjacency.sum(axis=1)).ravel()
    return sparse.diags(1.0 / np.maximum(degree, 1.0)) @ adjacency


def smooth(mesh: Mesh, smoothing: Smoothing, iterations: int) -> Mesh:
    """A smoothed copy of ``mesh`` (umbrella operator; Taubin alternates lambda and mu)."""
    if smoothing is Smoothing.NONE or iterations == 0 or not len(mesh.faces):
        return mesh
    average = _neighbour_average(mesh)
    vertices = mesh.vertices.copy()
    steps = (TAUBIN_LAMBDA, TAUBIN_MU) if smoothing is Smoothing.TAUBIN else (LAPLACIAN_LAMBDA,)
    for _ in range(iterations):
        for factor in steps:
            vertices = vertices + factor * (average @ vertices - vertices)
    return Mesh(vertices, mesh.faces)
