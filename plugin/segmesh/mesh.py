"""Label maps to triangle meshes in patient LPS millimetres.

Marching cubes runs per segment on its bounding box (``scipy.ndimage.find_objects``), padded by
one empty voxel so that a segment touching the volume's edge still closes. Vertices go through
the grid's affine (or its slice positions where spacing is not uniform) to LPS mm, and the
winding is chosen so that normals point outward whatever the handedness of the affine: the
mesh is never mirrored. Smoothing and decimation return new meshes and never edit their input.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Any

import fast_simplification
import numpy as np
import numpy.typing as npt
from scipy import ndimage, sparse
from skimage.measure import marching_cubes

from .errors import BadRequestError
from .geometry import VolumeGeometry
from .labelmap import BoolArray, LabelMap, Segment, select_segments
from .options import parse_number

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

#: Taubin's pass band: the shrinking step and the (larger, negative) inflating step.
TAUBIN_LAMBDA = 0.5
TAUBIN_MU = -0.53
LAPLACIAN_LAMBDA = 0.5
MAX_ITERATIONS = 500


class Smoothing(StrEnum):
    """Smoothing filters."""

    TAUBIN = "taubin"  # Laplacian with a shrink-compensating step: keeps volumes
    LAPLACIAN = "laplacian"  # plain umbrella operator: shrinks small structures
    NONE = "none"


@dataclass(frozen=True)
class MeshOptions:
    """How meshes are built: ``decimate`` is the fraction of triangles removed, in [0, 1)."""

    smoothing: Smoothing = Smoothing.TAUBIN
    iterations: int = 20
    decimate: float = 0.0

    @classmethod
    def from_values(cls, values: Mapping[str, Any]) -> MeshOptions:
        """Parse ``Smoothing``, ``Iterations``, ``Decimate`` (request body or query, any case)."""
        lowered = {str(key).lower(): value for key, value in values.items()}
        options = cls()
        if lowered.get("smoothing") is not None:
            try:
                options = replace(options, smoothing=Smoothing(str(lowered["smoothing"]).lower()))
            except ValueError as error:
                raise BadRequestError(
                    "Bad parameter Smoothing", f"{lowered['smoothing']!r}: taubin, laplacian, none"
                ) from error
        if lowered.get("iterations") is not None:
            iterations = parse_number(lowered["iterations"], "Iterations")
            if iterations != int(iterations) or not 0 <= iterations <= MAX_ITERATIONS:
                raise BadRequestError(
                    "Bad parameter Iterations", f"an integer from 0 to {MAX_ITERATIONS}"
                )
            options = replace(options, iterations=int(iterations))
        if lowered.get("decimate") is not None:
            decimate = parse_number(lowered["decimate"], "Decimate")
            if not 0.0 <= decimate < 1.0:
                raise BadRequestError("Bad parameter Decimate", "a fraction in [0, 1)")
            options = replace(options, decimate=decimate)
        return options

    def to_json(self) -> dict[str, Any]:
        """JSON-ready parameters (recorded in the DICOM instance and its UIDs)."""
        return {
            "Smoothing": self.smoothing.value,
            "Iterations": self.iterations,
            "Decimate": self.decimate,
        }


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


def surface(
    mask: BoolArray, geometry: VolumeGeometry, origin: tuple[int, int, int] = (0, 0, 0)
) -> Mesh | None:
    """Marching cubes of a boolean ``mask`` (slices, rows, columns) whose voxel [0, 0, 0] is
    voxel ``origin`` (k, j, i) of ``geometry``; None where the mask is empty."""
    if not mask.any():
        return None
    padded = np.pad(mask, 1).astype(np.float32)
    kji, faces, _, _ = marching_cubes(padded, level=0.5, allow_degenerate=False)
    kji += np.asarray(origin, dtype=np.float64) - 1.0
    vertices = geometry.index_to_lps(kji[:, ::-1])
    mesh = Mesh(vertices, faces.astype(np.int64))
    # (k, j, i) -> (i, j, k) and the affine's handedness may each mirror the winding: fix it
    # from the sign of the enclosed volume instead of reasoning about both.
    if mesh.volume < 0:
        mesh = Mesh(vertices, np.ascontiguousarray(mesh.faces[:, ::-1]))
    return mesh


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


def decimate(mesh: Mesh, fraction: float) -> Mesh:
    """A copy with about ``fraction`` of the triangles removed (fast-simplification)."""
    if fraction <= 0.0 or len(mesh.faces) < 8:
        return mesh
    vertices, faces = fast_simplification.simplify(
        mesh.vertices, mesh.faces.astype(np.int32), target_reduction=fraction
    )
    return Mesh(np.asarray(vertices, dtype=np.float64), np.asarray(faces, dtype=np.int64))


def build(mask: BoolArray, geometry: VolumeGeometry, options: MeshOptions) -> Mesh | None:
    """The finished mesh of one full-grid mask: bounding box, marching cubes, smoothing,
    decimation. None where the mask is empty."""
    boxes = ndimage.find_objects(mask.astype(np.uint8))
    if not boxes or boxes[0] is None:
        return None
    return _finish(surface(mask[boxes[0]], geometry, _start(boxes[0])), options)


def _start(box: tuple[slice, ...]) -> tuple[int, int, int]:
    return int(box[0].start), int(box[1].start), int(box[2].start)


def _finish(mesh: Mesh | None, options: MeshOptions) -> Mesh | None:
    if mesh is None:
        return None
    return decimate(smooth(mesh, options.smoothing, options.iterations), options.decimate)


def segment_meshes(
    labelmap: LabelMap, numbers: Sequence[int] | None, options: MeshOptions
) -> Iterator[tuple[Segment, Mesh | None]]:
    """Each asked segment (all where ``numbers`` is None) with its mesh, None where empty.

    Bounding boxes come from one ``find_objects`` pass per layer, so that marching cubes never
    sees more than a segment's own box. Raises 400 for unknown segment numbers.
    """
    wanted = select_segments(labelmap.segments, numbers, "the source holds segments")
    boxes_by_layer: dict[int, list[tuple[slice, ...] | None]] = {}
    for segment in wanted:
        if segment.layer not in boxes_by_layer:
            boxes_by_layer[segment.layer] = ndimage.find_objects(labelmap.layers[segment.layer])
        boxes = boxes_by_layer[segment.layer]
        box = boxes[segment.value - 1] if segment.value <= len(boxes) else None
        if box is None:
            yield segment, None
            continue
        mask = labelmap.layers[segment.layer][box] == segment.value
        yield segment, _finish(surface(mask, labelmap.geometry, _start(box)), options)
