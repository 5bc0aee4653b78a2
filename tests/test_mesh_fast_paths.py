"""The fast paths of a model's steps on small meshes give what the general ones give: the sorted
edges of a small closed mesh (smoothing's neighbour matrix, the printability report's shells)
and the icon's depth buffer, square minimum and slopes, each against the form it replaced."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import ndimage, sparse

from segmesh.labelmap import BoolArray
from segmesh.mesh import Mesh, smoothing
from segmesh.mesh import printability as report
from segmesh.mesh.base import directed_edges, paired_edges
from segmesh.mesh.options import Smoothing
from segmesh.models import icon
from tests.test_printability import mesh_of, radii, shapes

DEPTH_LEVELS = icon.DEPTH_LEVELS


def blob(seed: int, size: int = 10, fill: float = 0.5) -> BoolArray:
    """A random mask smoothed into a few lumps (several shells, some with cavities)."""
    rng = np.random.default_rng(seed)
    return np.asarray(ndimage.uniform_filter(rng.random((size, size, size)), 3) > fill)


def closed_meshes() -> list[Mesh]:
    """Closed 2-manifolds of one shell and of several, with cavities."""
    size = 20
    two = (radii(size) <= 3.0) | (np.roll(radii(size), 8, axis=2) <= 2.5)
    ball_in_cavity = (radii(size) <= 2.5) | ((radii(size) <= 8.0) & (radii(size) > 5.0))
    meshes = [mesh_of(two), mesh_of(ball_in_cavity), mesh_of(radii(size) <= 7.0)]
    meshes += [mesh_of(mask) for mask in map(blob, range(4)) if mask.any()]
    assert all(paired_edges(mesh.faces, len(mesh.vertices)) for mesh in meshes)
    return meshes


def scipy_edges(mesh: Mesh) -> sparse.csr_matrix:
    """The canonical CSR matrix of the directed edges a -> b, b -> c, c -> a of each face."""
    faces, n = mesh.faces, len(mesh.vertices)
    rows, columns = faces.ravel(), np.roll(faces, -1, axis=1).ravel()
    matrix = sparse.csr_matrix((np.ones(len(rows)), (rows, columns)), shape=(n, n))
    matrix.sort_indices()
    return matrix


@pytest.mark.parametrize("mesh", closed_meshes())
def test_sorted_edges_are_scipys_canonical_matrix(mesh: Mesh) -> None:
    starts, ends = directed_edges(mesh.faces, len(mesh.vertices))
    expected = scipy_edges(mesh)
    np.testing.assert_array_equal(starts, expected.indptr)
    np.testing.assert_array_equal(ends, expected.indices)
    assert starts.dtype == ends.dtype == np.int32


@pytest.mark.parametrize("mesh", closed_meshes())
def test_small_meshes_smooth_to_the_bit_as_large_ones(
    mesh: Mesh, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The sorted edges make the same neighbour matrix as scipy's conversion, so Taubin's 20
    iterations give the same vertices, bit for bit."""
    fast = smoothing._neighbour_average(mesh)
    fast_smoothed = smoothing.smooth(mesh, Smoothing.TAUBIN, 20)
    monkeypatch.setattr(smoothing, "SORTED_EDGES_LIMIT", -1)
    general = smoothing._neighbour_average(mesh)
    for name in ("indptr", "indices", "data"):
        np.testing.assert_array_equal(getattr(fast, name), getattr(general, name))
    smoothed = smoothing.smooth(mesh, Smoothing.TAUBIN, 20)
    assert not np.array_equal(smoothed.vertices, mesh.vertices)
    np.testing.assert_array_equal(fast_smoothed.vertices, smoothed.vertices)


def scipy_smoothed(mesh: Mesh, smoothing_kind: Smoothing, iterations: int) -> np.ndarray:
    """The vertices smoothed by scipy's public product, ``average @ vertices`` (the form
    :func:`segmesh.mesh.smoothing.smooth` calls its kernel for)."""
    average = smoothing._neighbour_average(mesh)
    vertices = mesh.vertices.copy()
    factors = (
        (smoothing.TAUBIN_LAMBDA, smoothing.TAUBIN_MU)
        if smoothing_kind is Smoothing.TAUBIN
        else (smoothing.LAPLACIAN_LAMBDA,)
    )
    for _ in range(iterations):
        for factor in factors:
            step = average @ vertices
            step -= vertices
            step *= factor
            vertices += step
    return vertices


@pytest.mark.parametrize("kind", [Smoothing.TAUBIN, Smoothing.LAPLACIAN])
@pytest.mark.parametrize("large", [False, True])
def test_smoothing_is_scipys_product_to_the_bit(
    kind: Smoothing, large: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """scipy's private kernel, called directly, gives its public product's vertices: on closed
    meshes (the sorted edges, or scipy's conversion where large) and open ones (the transpose
    added)."""
    if large:
        monkeypatch.setattr(smoothing, "SORTED_EDGES_LIMIT", -1)
    cube = shapes()[0][1]
    # A cube left open, and one whose vertices are in Fortran order (the kernel reads C order).
    others = [
        Mesh(cube.vertices, cube.faces[:-1]),
        Mesh(np.asfortranarray(cube.vertices), cube.faces),
    ]
    for mesh in [*closed_meshes()[:3], *others]:
        smoothed = smoothing.smooth(mesh, kind, 7)
        np.testing.assert_array_equal(smoothed.vertices, scipy_smoothed(mesh, kind, 7))


def shells_in_order(mesh: Mesh, paired: bool) -> tuple[np.ndarray, np.ndarray]:
    volumes, boxes = report._shells(mesh, paired)
    order = np.lexsort(boxes.reshape(len(boxes), -1).T)
    return volumes[order], boxes[order]


@pytest.mark.parametrize("mesh", closed_meshes() + [mesh for _, mesh in shapes()[:5]])
def test_small_meshes_shells_are_the_large_ones(
    mesh: Mesh, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The strong components of the sorted edges (both ways) against the undirected search on
    half edges and on two edges a face; a single shell's figures against its faces' sums."""
    paired = paired_edges(mesh.faces, len(mesh.vertices))
    fast = shells_in_order(mesh, paired)
    components, labels = report._components(mesh, paired)
    monkeypatch.setattr(report, "SORTED_EDGES_LIMIT", -1)
    for general in (shells_in_order(mesh, paired), shells_in_order(mesh, False)):
        np.testing.assert_allclose(fast[0], general[0], rtol=0, atol=1e-9)
        np.testing.assert_array_equal(fast[1], general[1])
    general_components, general_labels = report._components(mesh, False)
    assert components == general_components == len(np.unique(labels))
    # The same partition of the vertices, whatever each component's number.
    pairs = np.unique(np.stack([labels, general_labels]), axis=1)
    assert pairs.shape[1] == components
    if components == 1:
        faces_sum = float(
            np.bincount(
                np.zeros(len(mesh.faces), dtype=np.intp), weights=mesh._signed_tetra_volumes()
            )[0]
        )
        assert fast[0][0] == pytest.approx(faces_sum, rel=1e-12)
        np.testing.assert_array_equal(fast[1][0], [mesh.vertices.min(0), mesh.vertices.max(0)])


def sorted_depth_buffer(pixels: np.ndarray, depths: np.ndarray, size: int) -> np.ndarray:
    """The depth buffer as one sort of (pixel, quantised depth) keys (the form replaced)."""
    low = float(depths.min())
    step = max(float(depths.max()) - low, 1e-6) / (DEPTH_LEVELS - 1)
    keys = np.sort(pixels * DEPTH_LEVELS + ((depths - low) / step).astype(np.int64))
    pixel = keys // DEPTH_LEVELS
    first = np.empty(len(keys), dtype=bool)
    first[0] = True
    np.not_equal(pixel[1:], pixel[:-1], out=first[1:])
    buffer = np.full(size * size, np.inf)
    buffer[pixel[first]] = low + (keys[first] % DEPTH_LEVELS) * step
    return buffer.reshape(size, size)


def padded_slopes(depth: np.ndarray, inside: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The slopes with np.pad and a division by the neighbours' count (the form replaced)."""
    depth = np.where(inside, depth, 0.0)
    padded, known = np.pad(depth, 1), np.pad(inside, 1)
    slopes = []
    for ahead, behind in ((np.s_[1:-1, 2:], np.s_[1:-1, :-2]), (np.s_[2:, 1:-1], np.s_[:-2, 1:-1])):
        has_ahead, has_behind = known[ahead], known[behind]
        span = has_ahead.astype(np.float64) + has_behind
        difference = np.where(has_ahead, padded[ahead], depth) - np.where(
            has_behind, padded[behind], depth
        )
        slopes.append(np.where(span > 0, difference / np.maximum(span, 1.0), 0.0))
    return slopes[0], slopes[1]


@settings(max_examples=80, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    points=st.integers(1, 3000),
    size=st.integers(3, 64),
    depth_range=st.sampled_from([0.0, 1e-9, 1.0, 500.0]),
    holes=st.floats(0.0, 0.9),
)
def test_icon_steps_are_the_forms_they_replaced(
    seed: int, points: int, size: int, depth_range: float, holes: float
) -> None:
    rng = np.random.default_rng(seed)
    pixels = rng.integers(0, size * size, points).astype(np.intp)
    depths = rng.normal(-40.0, 1.0, points) + rng.random(points) * depth_range
    depths[rng.random(points) < 0.2] = depths[0]  # ties within a pixel and across
    buffer = icon._depth_buffer(pixels, depths, size)
    np.testing.assert_array_equal(buffer, sorted_depth_buffer(pixels, depths, size))
    buffer[rng.random(buffer.shape) < holes] = np.inf
    front = icon._square_minimum(buffer, np.inf)
    np.testing.assert_array_equal(
        front, ndimage.minimum_filter(buffer, size=3, mode="constant", cval=np.inf)
    )
    finite: BoolArray = np.isfinite(front)
    inside = icon._square_minimum(finite, False)
    np.testing.assert_array_equal(inside, ndimage.binary_erosion(finite, np.ones((3, 3), bool)))
    for mine, theirs in zip(icon._slopes(front, inside), padded_slopes(front, inside), strict=True):
        np.testing.assert_array_equal(mine, theirs)


@pytest.mark.parametrize("mesh", closed_meshes()[:3])
def test_the_smoothed_mesh_keeps_its_edges_for_the_report(mesh: Mesh) -> None:
    """Smoothing finds the faces' edges once; the smoothed mesh keeps them (its report asks
    again), and its report is that of the same arrays anew."""
    fresh = Mesh(mesh.vertices.copy(), mesh.faces.copy())
    smoothed = smoothing.smooth(fresh, Smoothing.TAUBIN, 20)
    assert smoothed.faces is fresh.faces
    assert smoothed.sorted_edges is fresh.sorted_edges
    assert smoothed.paired is True
    anew = Mesh(smoothed.vertices.copy(), smoothed.faces.copy())
    assert report.printability(smoothed, 1.5) == report.printability(anew, 1.5)
