"""Image series to a mask by thresholding stored values after rescale (Hounsfield for CT).

This is the museum path: a CT or micro-CT of an artefact becomes a printable model.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
from pydicom.dataset import Dataset
from scipy import ndimage

from ..dicom.malformed import as_broken_file
from ..errors import UnprocessableError
from ..geometry import VolumeGeometry, geometry_from_images
from ..images.image_volume import rescaled_slices
from ..labelmap import BoolArray, LabelMap, Segment, check_voxel_limit
from ..settings import Settings

THRESHOLD_COLOR = (241, 214, 145)


@dataclass(frozen=True)
class ThresholdOptions:
    """``lower`` <= value (<= ``upper``) in rescaled units; keep the ``keep_largest`` largest
    connected components (6-connectivity), all where None. Parsed by
    :mod:`segmesh.requests.mesh_fields`."""

    lower: float
    upper: float | None = None
    keep_largest: int | None = None

    @property
    def label(self) -> str:
        """A readable name of the thresholded segment."""
        text = f"Threshold >= {self.lower:g}" + (
            f" and <= {self.upper:g}" if self.upper is not None else ""
        )
        return text + (f", {self.keep_largest} largest" if self.keep_largest else "")

    def to_json(self) -> dict[str, Any]:
        """JSON-ready parameters."""
        return {"Threshold": self.lower, "Upper": self.upper, "KeepLargest": self.keep_largest}


def threshold_grid(datasets: Sequence[Dataset], settings: Settings) -> VolumeGeometry:
    """The grid of a greyscale series; 413 above MaxVoxels, 422 for colour images."""
    geometry, _ = geometry_from_images(datasets)
    check_voxel_limit(geometry.shape, settings.max_voxels)
    if any(int(dataset.get("SamplesPerPixel", 1)) != 1 for dataset in datasets):
        raise UnprocessableError("Not a greyscale series", "SamplesPerPixel is not 1")
    return geometry


def _within(values: npt.NDArray[Any], options: ThresholdOptions) -> BoolArray:
    mask = values >= options.lower
    if options.upper is not None:
        mask &= values <= options.upper
    return np.asarray(mask)


def keep_largest(mask: BoolArray, count: int | None) -> BoolArray:
    """The ``count`` largest connected components (6-connectivity) of ``mask``, all where
    None; ``mask`` is reduced in place.

    Labelled on the mask's bounding box, in int16 labels where they fit: the labels are the
    largest array of the threshold path (int32 would be twice a CT's own volume). Sizes are
    counted and the mask reduced slice by slice, since ``np.bincount`` and comparisons of the
    whole box would make intp and boolean copies of it."""
    if count is None:
        return mask
    boxes = ndimage.find_objects(mask.view(np.uint8))
    if not boxes or boxes[0] is None:
        return mask
    box = boxes[0]
    inside = mask[box]
    try:
        labels = np.empty(inside.shape, dtype=np.int16)
        components = int(ndimage.label(inside, output=labels))
    except RuntimeError:  # more components than int16 holds
        labels = np.empty(inside.shape, dtype=np.int32)
        components = int(ndimage.label(inside, output=labels))
    if components <= count:
        return mask
    sizes = np.zeros(components + 1, dtype=np.int64)
    for plane in labels:
        sizes += np.bincount(plane.ravel(), minlength=components + 1)
    keep = np.argsort(sizes[1:], kind="stable")[::-1][:count] + 1
    for k, plane in enumerate(labels):
        inside[k] = plane == keep[0] if count == 1 else np.isin(plane, keep)
    return mask


def threshold_mask(
    volume: npt.NDArray[np.integer[Any] | np.floating[Any]], options: ThresholdOptions
) -> BoolArray:
    """Voxels of ``volume`` within the bounds, reduced to the largest components where asked."""
    return keep_largest(_within(volume, options), options.keep_largest)


@as_broken_file
def threshold_labelmap(
    datasets: Sequence[Dataset],
    options: ThresholdOptions,
    settings: Settings,
    with_pixels: Callable[[int], Dataset] | None = None,
) -> LabelMap:
    """A one-segment label map (number 1) of the thresholded series; ``datasets`` may be
    headers only where ``with_pixels(n)`` reads image n with its pixels.

    Thresholded slice by slice as each is decoded and rescaled: the rescaled volume is never
    held, only the boolean mask (half a 16-bit image's size)."""
    geometry = threshold_grid(datasets, settings)
    _, slices = rescaled_slices(datasets, geometry, with_pixels)
    mask = np.empty(geometry.shape, dtype=bool)
    for k, values in enumerate(slices):
        mask[k] = _within(values, options)
    mask = keep_largest(mask, options.keep_largest)
    segment = Segment(1, options.label, THRESHOLD_COLOR)
    return LabelMap(mask.view(np.uint8)[np.newaxis], geometry, (segment,))
