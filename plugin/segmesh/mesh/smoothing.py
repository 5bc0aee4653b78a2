"""Smoothing filters on a sparse neighbour matrix; each returns a new mesh.

Taubin alternates a shrinking and a larger inflating step, so volumes are kept;
plain Laplacian smoothing shrinks small structures."""

from __future__ import annotations

import numpy as np
from scipy import sparse

# scipy's CSR kernels, private: the version is pinned, and tests/test_mesh_fast_paths.py holds
# ``smooth`` to the products of ``average @ vertices``, bit for bit.
from scipy.sparse._sparsetools import csr_matvecs

from .base import SORTED_EDGES_LIMIT, Mesh
from .options import Smoothing

#: Taubin's pass band: the shrinking step and the (larger, negative) inflating step.
TAUBIN_LAMBDA = 0.5


TAUBIN_MU = -0.53


LAPLACIAN_LAMBDA = 0.5


def _neighbour_average(mesh: Mesh) -> sparse.csr_matrix:
    """(N, N) row-normalised adjacency: (matrix @ vertices) is each vertex's neighbour mean.

    Built from each face's three directed edges (a -> b, b -> c, c -> a) as a matrix of int32
    indices and int8 counts, made symmetric by adding its transpose where the mesh is not a
    closed 2-manifold (:attr:`~segmesh.mesh.base.Mesh.paired`): the neighbours of the six
    directed edges a face has, with half their arrays (for a model of millions of triangles,
    those edge arrays are the largest of the whole meshing, model file aside). A small closed
    2-manifold's come sorted (:attr:`~segmesh.mesh.base.Mesh.sorted_edges`): the same canonical
    matrix, so the same products to the bit, in half the time."""
    n = len(mesh.vertices)
    paired = mesh.paired
    if paired and len(mesh.faces) <= SORTED_EDGES_LIMIT:
        starts, neighbours = mesh.sorted_edges
        degree = np.diff(starts)
        return sparse.csr_matrix(
            (np.repeat(1.0 / np.maximum(degree, 1.0), degree), neighbours, starts), shape=(n, n)
        )
    faces = mesh.faces.astype(np.int32) if n < 2**31 else mesh.faces
    rows = faces.ravel()  # a, b, c of each face
    columns = np.roll(faces, -1, axis=1).ravel()  # b, c, a
    counts = np.ones(len(rows), dtype=np.int8)
    directed = sparse.csr_matrix((counts, (rows, columns)), shape=(n, n))
    del faces, rows, columns, counts
    # A large closed 2-manifold's directed edges already hold each edge both ways: the same
    # neighbours (and, both canonical, the same arrays) as with the transpose added. Other
    # meshes' counts are 1 or 2 (no more faces share an edge of a surface): int8 holds them.
    adjacency = directed if paired else sparse.csr_matrix(directed + directed.T)
    del directed
    adjacency.sort_indices()
    # Each neighbour once: divide by the degree row by row in place (a product with a
    # diagonal matrix takes longer than the matrix's construction), in float64.
    degree = np.diff(adjacency.indptr)
    adjacency.data = np.repeat(1.0 / np.maximum(degree, 1.0), degree)
    return adjacency


def smooth(mesh: Mesh, smoothing: Smoothing, iterations: int) -> Mesh:
    """A smoothed copy of ``mesh`` (umbrella operator; Taubin alternates lambda and mu)."""
    if smoothing is Smoothing.NONE or iterations == 0 or not len(mesh.faces):
        return mesh
    average = _neighbour_average(mesh)
    # C-ordered float64, as the kernel reads them (and its output's ravel() is a view).
    vertices = np.array(mesh.vertices, dtype=np.float64, order="C")
    count = len(vertices)
    # One (N, 3) step, written over by each product.
    step = np.empty_like(vertices)
    steps = (TAUBIN_LAMBDA, TAUBIN_MU) if smoothing is Smoothing.TAUBIN else (LAPLACIAN_LAMBDA,)
    for _ in range(iterations):
        for factor in steps:
            # vertices += factor * (average @ vertices - vertices), without temporaries; the
            # product by the kernel ``average @ vertices`` runs, without scipy's dispatch and
            # its new array each time: a fifth of a small model's 40 products.
            step.fill(0.0)
            csr_matvecs(
                count,
                count,
                3,
                average.indptr,
                average.indices,
                average.data,
                vertices.ravel(),
                step.ravel(),
            )
            step -= vertices
            step *= factor
            vertices += step
    # The same faces: their edges, found here, serve the report too.
    return mesh.moved(vertices)
