"""Meshes: label maps and thresholded image series to closed triangle meshes in LPS mm.

- :mod:`.base`: :class:`Mesh` (vertices, faces, volume, centroid) and :func:`merge`;
- :mod:`.options`: :class:`MeshOptions` and :class:`Smoothing`;
- :mod:`.sampling`: :class:`Sampling`, every n-th voxel or blocks of a voxel size (previews);
- :mod:`.surfaces`: marching cubes per segment on its bounding box (:func:`segment_meshes`);
- :mod:`.surface_measures`: that surface's volume and area without the mesh
  (:func:`surface_volume_and_area`);
- :mod:`.smoothing`, :mod:`.decimation`: filters returning new meshes;
- :mod:`.printability`: whether a model can be printed (:class:`~.printability.Printability`:
  closed, manifold by manifold3d, bodies, size, thinnest wall from the voxels), its repair;
- :mod:`.threshold`: an image series (HU for CT) to a one-segment label map;
- :mod:`.slabs`, :mod:`.slab_components`, :mod:`.threshold_slabs`: the same series meshed in
  slabs stitched exactly, its largest components found in two passes, never holding its mask;
- :mod:`.preparation`: :class:`Preparation` for printing (cavities, hollow and drain, largest
  bodies on the voxels; triangle count, flat base, scale on the mesh).
"""

from .base import Mesh, merge
from .decimation import decimate
from .options import MAX_ITERATIONS, MeshOptions, Smoothing
from .preparation import Preparation
from .sampling import Sampling
from .smoothing import smooth
from .surface_measures import surface_volume_and_area
from .surfaces import (
    SegmentCrop,
    build,
    segment_boxes,
    segment_crops,
    segment_meshes,
    surface,
)
from .threshold import ThresholdOptions, threshold_labelmap, threshold_mask

__all__ = [
    "MAX_ITERATIONS",
    "Mesh",
    "MeshOptions",
    "Preparation",
    "Sampling",
    "SegmentCrop",
    "Smoothing",
    "ThresholdOptions",
    "build",
    "decimate",
    "merge",
    "segment_boxes",
    "segment_crops",
    "segment_meshes",
    "smooth",
    "surface",
    "surface_volume_and_area",
    "threshold_labelmap",
    "threshold_mask",
]
