"""Image series to a mask by thresholding stored values after rescale (Hounsfield for CT).

This is the museum path: a CT or micro-CT of an artefact becomes a printable model.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
from pydicom.dataset import Dataset
from scipy import ndimage

from ..dicom.image_volume import image_volume
from ..dicom.malformed import as_broken_file
from ..errors import BadRequestError, UnprocessableError
from ..geometry import VolumeGeometry, geometry_from_images
from ..labelmap import BoolArray, LabelMap, Segment, check_voxel_limit
from ..options import parse_number
from ..settings import Settings

THRESHOLD_COLOR = (241, 214, 145)


@dataclass(frozen=True)
class ThresholdOptions:
    """``lower`` <= value (<= ``upper``) in rescaled units; keep the ``keep_largest`` largest
    connected components (6-connectivity), all where None."""

    lower: float
    upper: float | None = None
    keep_largest: int | None = None

    @classmethod
    def from_body(cls, body: Mapping[str, Any]) -> ThresholdOptions:
        """Parse ``{"Threshold": lower, "Upper": optional, "KeepLargest": n}``."""
        if "Threshold" not in body:
            raise BadRequestError("Missing parameter Threshold", "the lower bound, e.g. 300 (HU)")
        lower = parse_number(body["Threshold"], "Threshold", text_allowed=False)
        upper = (
            parse_number(body["Upper"], "Upper", text_allowed=False)
            if body.get("Upper") is not None
            else None
        )
        if upper is not None and upper < lower:
            raise BadRequestError("Bad parameter Upper", f"{upper} is below Threshold {lower}")
        keep = body.get("KeepLargest")
        if keep is not None and (isinstance(keep, bool) or not isinstance(keep, int) or keep < 1):
            raise BadRequestError("Bad parameter KeepLargest", "a positive integer")
        return cls(lower, upper, keep)

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


def rescaled_volume(
    datasets: Sequence[Dataset], settings: Settings
) -> tuple[npt.NDArray[np.integer[Any] | np.floating[Any]], VolumeGeometry]:
    """(slices, rows, columns) values after the modality rescale (per frame for enhanced
    objects; see :func:`segmesh.image_volume.image_volume`), and their grid."""
    geometry, _ = geometry_from_images(datasets)
    check_voxel_limit(geometry.shape, settings.max_voxels)
    if any(int(dataset.get("SamplesPerPixel", 1)) != 1 for dataset in datasets):
        raise UnprocessableError("Not a greyscale series", "SamplesPerPixel is not 1")
    return image_volume(datasets, geometry), geometry


def threshold_mask(
    volume: npt.NDArray[np.integer[Any] | np.floating[Any]], options: ThresholdOptions
) -> BoolArray:
    """Voxels within the bounds, reduced to the largest components where asked."""
    mask = volume >= options.lower
    if options.upper is not None:
        mask &= volume <= options.upper
    if options.keep_largest is None or not mask.any():
        return np.asarray(mask)
    labels, count = ndimage.label(mask)
    if count <= options.keep_largest:
        return np.asarray(mask)
    sizes = np.bincount(labels.ravel())[1:]
    keep = np.argsort(sizes, kind="stable")[::-1][: options.keep_largest] + 1
    return np.asarray(np.isin(labels, keep))


@as_broken_file
def threshold_labelmap(
    datasets: Sequence[Dataset], options: ThresholdOptions, settings: Settings
) -> LabelMap:
    """A one-segment label map (number 1) of the thresholded series."""
    volume, geometry = rescaled_volume(datasets, settings)
    mask = threshold_mask(volume, options)
    segment = Segment(1, options.label, THRESHOLD_COLOR)
    return LabelMap(mask.astype(np.uint8)[np.newaxis], geometry, (segment,))
