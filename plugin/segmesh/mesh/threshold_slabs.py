"""A thresholded image series meshed in slabs (:mod:`.slabs`): the images are read, rescaled and
thresholded one at a time and marching cubes runs a slab at a time, so that neither the scan
nor its mask is ever held whole; smoothing and decimation then run on the stitched mesh.

Only where the options allow it (:func:`slabs_allowed`); everything else keeps the whole-mask
path of :func:`segmesh.mesh.threshold_labelmap`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import replace

from pydicom.dataset import Dataset

from ..dicom.malformed import as_broken_file
from ..geometry import VolumeGeometry
from ..images.image_volume import rescaled_slices
from ..labelmap import BoolArray
from ..settings import Settings
from .base import Mesh
from .decimation import decimate
from .options import MeshOptions, Smoothing
from .slab_components import largest_components
from .slabs import slab_surface
from .smoothing import smooth
from .threshold import ThresholdOptions, _within, threshold_grid


def _voxel_options(options: MeshOptions) -> MeshOptions:
    """``options`` without what runs on the stitched mesh (smoothing, decimation, and the
    preparation's mesh steps: triangle count, base, scale)."""
    return replace(options.for_parts(), smoothing=Smoothing.NONE, iterations=0, decimate=0.0)


def slabs_allowed(options: MeshOptions) -> bool:
    """Whether a thresholded series may be meshed in slabs with these options (any threshold,
    ``KeepLargest`` too: found in two passes, see :mod:`.slab_components`).

    Only full-grid marching cubes, with smoothing, decimation and the preparation's mesh steps,
    which run on the stitched mesh: a ``Step`` or ``VoxelSize`` samples from the corner of the mask's bounding box,
    known only once the whole series is read; any other option (say, a preparation of the
    voxels) needs the whole mask. Those take the whole-mask path."""
    return _voxel_options(options) == _voxel_options(MeshOptions())


def threshold_slices(
    datasets: Sequence[Dataset],
    threshold: ThresholdOptions,
    settings: Settings,
    with_pixels: Callable[[int], Dataset] | None = None,
) -> tuple[VolumeGeometry, Iterator[BoolArray]]:
    """The grid of the series (413 above MaxVoxels, 422 for colour images) and its (rows,
    columns) masks in slice order, each read, rescaled and thresholded as it is asked for;
    ``datasets`` may be headers only where ``with_pixels(n)`` reads image n with its pixels."""
    geometry = threshold_grid(datasets, settings)
    _, slices = rescaled_slices(datasets, geometry, with_pixels)
    return geometry, (_within(values, threshold) for values in slices)


@as_broken_file
def threshold_slab_mesh(
    datasets: Sequence[Dataset],
    threshold: ThresholdOptions,
    options: MeshOptions,
    settings: Settings,
    with_pixels: Callable[[int], Dataset] | None = None,
) -> tuple[VolumeGeometry, Mesh | None]:
    """The grid and finished mesh of the thresholded series, meshed in slabs (see
    :func:`threshold_slices`); None where no voxel is within the bounds. ``options`` must be
    :func:`slabs_allowed`. With ``KeepLargest`` the series is read twice."""
    if not slabs_allowed(options):
        raise ValueError("options that need the whole mask")
    geometry, masks = threshold_slices(datasets, threshold, settings, with_pixels)
    if threshold.keep_largest is not None:
        masks = largest_components(
            lambda: threshold_slices(datasets, threshold, settings, with_pixels)[1],
            threshold.keep_largest,
        )
    mesh = slab_surface(masks, geometry)
    if mesh is None:
        return geometry, None
    mesh = decimate(smooth(mesh, options.smoothing, options.iterations), options.decimate)
    return geometry, options.preparation.shape(mesh)
