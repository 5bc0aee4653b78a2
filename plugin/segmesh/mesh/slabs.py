"""Marching cubes of a mask given slice by slice, in slabs stitched exactly: the same surface as
:func:`segmesh.mesh.surfaces.surface` on the whole mask at full resolution, while only a slab of
the mask is held at a time.

A slab of n cube layers needs n + 1 slices: consecutive slabs share one slice plane. Each cube
lies in exactly one slab and marching cubes (Lewiner's, as scikit-image runs it) decides a cube's
triangles from its eight corners alone, so the slabs' triangles together are those of one pass.
The mask is seen inside one empty voxel on every side, as ``surface()`` pads it, so the surface
closes at the volume's border. A vertex on a shared plane lies on an edge of that plane, which
both slabs cut at its midpoint: the upper slab's copy is replaced by the lower one's, matched by
its (j, i) in half voxels, so the stitched mesh has each vertex once.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
from skimage.measure import marching_cubes

from ..geometry import VolumeGeometry
from ..labelmap import BoolArray
from .base import FACE_CHUNK, FloatArray, IntArray, Mesh
from .surfaces import _wound_inward

#: Mask voxels (slices x rows x columns) a slab holds at most, as float32 for marching cubes
#: (64 MB), and a few times that in its scratch: a slab of a 1024 x 1024 scan is 14 layers.
SLAB_VOXELS = 1 << 24


def slab_layers(rows: int, columns: int, voxels: int | None = None) -> int:
    """Cube layers per slab for slices of ``rows`` x ``columns`` holding at most ``voxels``
    (:data:`SLAB_VOXELS` where None): at least 1."""
    return max(1, (voxels or SLAB_VOXELS) // max(1, (rows + 2) * (columns + 2)) - 1)


@dataclass
class _Stitched:
    """The slabs' vertices (mask k, j, i) and faces so far, and the vertices of the last slab's
    top plane: their (j, i) keys sorted and their indices in the stitched mesh."""

    width: int
    vertices: list[npt.NDArray[np.float64]] = field(default_factory=list)
    faces: list[IntArray] = field(default_factory=list)
    count: int = 0
    top_keys: npt.NDArray[np.int64] = field(default_factory=lambda: np.zeros(0, np.int64))
    top_indices: IntArray = field(default_factory=lambda: np.zeros(0, np.int64))

    def keys(self, kji: npt.NDArray[np.float64]) -> npt.NDArray[np.int64]:
        """A vertex's (j, i) on a plane, in half voxels from -1 (vertices lie from -0.5 on)."""
        doubled = np.rint(2.0 * kji[:, 1:] + 2.0).astype(np.int64)
        return np.asarray(doubled[:, 0] * self.width + doubled[:, 1], dtype=np.int64)

    def add(
        self,
        kji: npt.NDArray[np.float64],
        faces: npt.NDArray[np.integer],
        bottom: float,
        top: float,
    ) -> None:
        """One slab's vertices (mask k, j, i) and faces; its planes at k ``bottom``, ``top``."""
        on_bottom = kji[:, 0] == bottom
        shared = np.flatnonzero(on_bottom)
        mine = np.flatnonzero(~on_bottom)
        indices = np.empty(len(kji), dtype=np.int64)
        indices[mine] = self.count + np.arange(len(mine), dtype=np.int64)
        if len(shared):
            keys = self.keys(kji[shared])
            found = np.searchsorted(self.top_keys, keys)
            found = np.minimum(found, len(self.top_keys) - 1)
            if len(self.top_keys) == 0 or not np.array_equal(self.top_keys[found], keys):
                raise AssertionError("a vertex on a slab's plane is missing below it")
            indices[shared] = self.top_indices[found]
        on_top = np.flatnonzero(kji[:, 0] == top)
        keys = self.keys(kji[on_top])
        order = np.argsort(keys, kind="stable")
        self.top_keys, self.top_indices = keys[order], indices[on_top][order]
        self.vertices.append(kji[mine])
        self.faces.append(indices[faces])
        self.count += len(mine)

    def clear_top(self) -> None:
        """An empty slab: no vertex on its top plane."""
        self.top_keys = np.zeros(0, np.int64)
        self.top_indices = np.zeros(0, np.int64)


def _slabs(
    slices: Iterable[BoolArray], layers: int
) -> Iterator[tuple[int, list[BoolArray | None]]]:
    """Each slab as its first padded slice index p (mask slice p - 1) and its layers + 1
    slices, None for the empty padding before and after the mask."""
    held: list[BoolArray | None] = [None]
    first = 0
    for plane in slices:
        held.append(plane)
        if len(held) == layers + 1:
            yield first, held
            first += layers
            held = [held[-1]]
    held.append(None)
    yield first, held


def _slab_kji(
    held: list[BoolArray | None], first: int, shape: tuple[int, int]
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.integer]] | None:
    """Marching cubes of one slab, cropped to its voxels' rows and columns inside one empty
    voxel: (N, 3) vertices in mask (k, j, i) and (M, 3) faces; None where it is empty."""
    rows = np.zeros(shape[0], dtype=bool)
    columns = np.zeros(shape[1], dtype=bool)
    for plane in held:
        if plane is not None:
            rows |= plane.any(axis=1)
            columns |= plane.any(axis=0)
    if not rows.any():
        return None
    j0, j1 = np.flatnonzero(rows)[[0, -1]]
    i0, i1 = np.flatnonzero(columns)[[0, -1]]
    padded = np.zeros((len(held), j1 - j0 + 3, i1 - i0 + 3), dtype=np.float32)
    for n, plane in enumerate(held):
        if plane is not None:
            padded[n, 1:-1, 1:-1] = plane[j0 : j1 + 1, i0 : i1 + 1]
    # Degenerate triangles kept, as surface() keeps them on the full grid (see its docstring).
    kji, faces, _, _ = marching_cubes(padded, level=0.5, allow_degenerate=True)
    offset = np.asarray([first - 1, j0 - 1, i0 - 1], dtype=np.float64)
    return kji.astype(np.float64) + offset, faces


def _drain(
    pieces: list[npt.NDArray[Any]],
    whole: npt.NDArray[Any],
    convert: Callable[[npt.NDArray[Any]], npt.NDArray[Any]],
) -> None:
    """``convert`` of each of ``pieces`` written into ``whole`` one after the other, each
    piece removed from the list once copied: ``pieces`` ends empty."""
    pieces.reverse()
    position = 0
    while pieces:
        piece = convert(pieces.pop())
        whole[position : position + len(piece)] = piece
        position += len(piece)


def slab_surface(
    slices: Iterable[BoolArray],
    geometry: VolumeGeometry,
    layers: int | None = None,
) -> Mesh | None:
    """Marching cubes of the mask whose (rows, columns) ``slices`` are given in order k of
    ``geometry``'s grid, ``layers`` cube layers at a time (by :data:`SLAB_VOXELS` where None):
    the triangles of :func:`~segmesh.mesh.surfaces.surface` on the whole mask, the same
    vertices (LPS mm) up to float rounding and winding, in another order. None where empty.

    Holds ``layers`` + 1 slices and the mesh so far."""
    _, rows, columns = geometry.shape
    stitched = _Stitched(width=2 * columns + 6)
    for first, held in _slabs(slices, layers or slab_layers(rows, columns)):
        slab = _slab_kji(held, first, (rows, columns))
        if slab is None:
            stitched.clear_top()
            continue
        kji, faces = slab
        stitched.add(kji, faces, float(first - 1), float(first - 1 + len(held) - 1))
    if not stitched.count:
        return None
    # Each slab's arrays copied into the whole and dropped in turn (a concatenation holds them
    # all beside it), its vertices taken to LPS a slab at a time (index_to_lps works row by
    # row: the same figures, without its temporaries of the whole mesh).
    vertices: FloatArray = np.empty((stitched.count, 3), dtype=np.float64)
    _drain(stitched.vertices, vertices, lambda kji: geometry.index_to_lps(kji[:, ::-1]))
    faces_all: IntArray = np.empty((sum(len(f) for f in stitched.faces), 3), dtype=np.int64)
    _drain(stitched.faces, faces_all, lambda faces: faces)
    if _wound_inward(vertices, faces_all):
        # Reversed in place, a chunk at a time: no second array of the faces.
        for start in range(0, len(faces_all), FACE_CHUNK):
            chunk = faces_all[start : start + FACE_CHUNK]
            chunk[:, [1, 2]] = chunk[:, [2, 1]]
    return Mesh(vertices, faces_all)
