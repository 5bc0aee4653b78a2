"""Label maps to triangle meshes in patient LPS millimetres.

Marching cubes runs per segment on its bounding box (``scipy.ndimage.find_objects``), padded by
one empty voxel so that a segment touching the volume's edge still closes. Vertices go through
the grid's affine (or its slice positions where spacing is not uniform) to LPS mm, and the
winding is chosen so that normals point outward whatever the handedness of the affine: the
mesh is never mirrored.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy import ndimage
from skimage.measure import marching_cubes

from ..geometry import VolumeGeometry
from ..labelmap import BoolArray, Box, LabelMap, Segment, select_segments
from .base import FACE_CHUNK, Mesh
from .decimation import decimate
from .options import MeshOptions
from .sampling import Sampling
from .smoothing import smooth

FULL_GRID = Sampling()


def surface(
    mask: BoolArray,
    geometry: VolumeGeometry,
    origin: tuple[int, int, int] = (0, 0, 0),
    keep_degenerate: bool = False,
    sampling: Sampling = FULL_GRID,
) -> Mesh | None:
    """Marching cubes of a boolean ``mask`` (slices, rows, columns) whose voxel [0, 0, 0] is
    voxel ``origin`` (k, j, i) of ``geometry``, on the samples of ``sampling``; None where the
    mask (or its samples) is empty.

    ``keep_degenerate`` keeps zero-area triangles: they add nothing to volume and area, and
    removing them takes half again as long as marching cubes itself, so figures keep them;
    stored models do not. Only samples of a ``voxel_size`` (fractions of a block inside) have
    any: samples of 0 and 1 put each vertex at the midpoint of a cube's edge or inside the
    cube (Lewiner's extra vertex, a mean of its edges' points), so no two corners of a face
    coincide, and the removal, which looks for those, is skipped."""
    if not mask.any():
        return None
    factors = sampling.factors(geometry)
    padded, first = sampling.padded_samples(mask, factors)
    if padded.max() <= 0.5:
        return None
    binary = sampling.voxel_size is None
    kji, faces, _, _ = marching_cubes(padded, level=0.5, allow_degenerate=keep_degenerate or binary)
    kji = (kji - 1.0) * np.asarray(factors, dtype=np.float64) + first + np.asarray(origin)
    vertices = geometry.index_to_lps(kji[:, ::-1])
    faces = faces.astype(np.int64)
    # (k, j, i) -> (i, j, k) and the affine's handedness may each mirror the winding: fix it
    # from the sign of the enclosed volume instead of reasoning about both.
    if _wound_inward(vertices, faces):
        faces = np.ascontiguousarray(faces[:, ::-1])
    return Mesh(vertices, faces)


def _wound_inward(vertices: npt.NDArray[np.float64], faces: npt.NDArray[np.int64]) -> bool:
    """Whether the closed mesh's signed volume is negative: by the divergence theorem on z
    alone, the sum of (za + zb + zc) ((b - a) x (c - a))_z / 6, a third of the arithmetic of
    :attr:`Mesh.volume` (whose areas and full normals the finished mesh computes anew). In
    chunks of faces, as that: a whole scan's mesh would take gigabytes of temporaries."""
    x, y, z = (np.ascontiguousarray(vertices[:, axis]) for axis in range(3))
    total = 0.0
    for start in range(0, len(faces), FACE_CHUNK):
        a, b, c = (np.ascontiguousarray(faces[start : start + FACE_CHUNK, n]) for n in range(3))
        xa, ya = x[a], y[a]
        cross_z = (x[b] - xa) * (y[c] - ya) - (y[b] - ya) * (x[c] - xa)
        total += float(((z[a] + z[b] + z[c]) * cross_z).sum())
    return total < 0.0


def build(mask: BoolArray, geometry: VolumeGeometry, options: MeshOptions) -> Mesh | None:
    """The finished mesh of one full-grid mask: bounding box, then as
    :meth:`SegmentCrop.mesh`. None where the mask is empty."""
    boxes = ndimage.find_objects(mask.astype(np.uint8))
    if not boxes or boxes[0] is None:
        return None
    crop, origin = options.preparation.voxels(mask[boxes[0]], _start(boxes[0]), geometry)
    return _meshed(crop, origin, geometry, options)


def _start(box: tuple[slice, ...]) -> tuple[int, int, int]:
    return int(box[0].start), int(box[1].start), int(box[2].start)


def _meshed(
    mask: BoolArray, origin: tuple[int, int, int], geometry: VolumeGeometry, options: MeshOptions
) -> Mesh | None:
    """The finished mesh of prepared voxels: marching cubes, smoothing, decimation, the
    mesh's steps of the preparation (see :class:`~segmesh.mesh.preparation.Preparation`)."""
    mesh = surface(mask, geometry, origin, sampling=options.sampling)
    if mesh is None:
        return None
    mesh = decimate(smooth(mesh, options.smoothing, options.iterations), options.decimate)
    return options.preparation.shape(mesh)


@dataclass(frozen=True, eq=False)
class SegmentCrop:
    """One segment's voxels: ``mask`` (slices, rows, columns) bool of its bounding box, whose
    voxel [0, 0, 0] is voxel ``origin`` (k, j, i) of the label map's grid. Small enough to send
    to a worker process, unlike the whole label map."""

    segment: Segment
    mask: BoolArray
    origin: tuple[int, int, int]

    @classmethod
    def cut(cls, labelmap: LabelMap, segment: Segment, box: Box) -> SegmentCrop:
        """``segment``'s crop of ``labelmap``, on its bounding ``box``."""
        return cls(segment, labelmap.layers[segment.layer][box] == segment.value, _start(box))

    def mesh(self, geometry: VolumeGeometry, options: MeshOptions) -> Mesh | None:
        """The finished mesh: voxels prepared, marching cubes, smoothing, decimation, the
        mesh prepared."""
        return self.prepared(geometry, options).meshed(geometry, options)

    def prepared(self, geometry: VolumeGeometry, options: MeshOptions) -> SegmentCrop:
        """This crop with the voxel steps of the preparation done (see
        :meth:`~segmesh.mesh.preparation.Preparation.voxels`): what the model is made of, and
        what its thinnest wall is measured on."""
        mask, origin = options.preparation.voxels(self.mask, self.origin, geometry)
        return self if mask is self.mask else SegmentCrop(self.segment, mask, origin)

    def meshed(self, geometry: VolumeGeometry, options: MeshOptions) -> Mesh | None:
        """The finished mesh of a crop whose voxels are prepared already (:meth:`prepared`):
        marching cubes, smoothing, decimation, the mesh's steps of the preparation."""
        return _meshed(self.mask, self.origin, geometry, options)


def segment_crops(
    labelmap: LabelMap, numbers: Sequence[int] | None, also_held: Collection[int] = ()
) -> Iterator[tuple[Segment, SegmentCrop | None]]:
    """Each asked segment (all where ``numbers`` is None) with its crop, None where empty.

    Each crop is its segment's bounding box (:meth:`LabelMap.box`), so that marching cubes
    never sees more than that. Raises 400 for segment numbers neither the label map
    nor ``also_held`` (segments its source holds but could not convert) holds.
    """
    for segment, box in segment_boxes(labelmap, numbers, also_held):
        yield segment, None if box is None else SegmentCrop.cut(labelmap, segment, box)


def segment_boxes(
    labelmap: LabelMap, numbers: Sequence[int] | None, also_held: Collection[int] = ()
) -> list[tuple[Segment, Box | None]]:
    """Each asked segment with its bounding box, None where empty (no crop cut yet: a model
    task cuts each as a worker is ready for it); see :func:`segment_crops`."""
    wanted = select_segments(labelmap.segments, numbers, "the source holds segments", also_held)
    return [(segment, labelmap.box(segment)) for segment in wanted]


def segment_meshes(
    labelmap: LabelMap, numbers: Sequence[int] | None, options: MeshOptions
) -> Iterator[tuple[Segment, Mesh | None]]:
    """Each asked segment (all where ``numbers`` is None) with its mesh, None where empty;
    see :func:`segment_crops`."""
    for segment, crop in segment_crops(labelmap, numbers):
        yield segment, None if crop is None else crop.mesh(labelmap.geometry, options)
