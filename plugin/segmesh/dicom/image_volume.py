"""The referenced image series as one volume on the label map's grid, rescale applied
(Hounsfield units for CT), for ``include=image``."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt
from pydicom.dataset import Dataset

from ..errors import UnprocessableError, UnsupportedError
from ..geometry import VolumeGeometry, geometry_from_images
from .attributes import first_item, float_value, functional_group_item
from .malformed import as_broken_file


def _rescale(dataset: Dataset, frame: int) -> tuple[float, float]:
    """(RescaleSlope, RescaleIntercept) of one frame: per-frame, shared, then top level."""
    per_frame_groups = dataset.get("PerFrameFunctionalGroupsSequence")
    item = functional_group_item(
        per_frame_groups[frame] if per_frame_groups else None,
        first_item(dataset, "SharedFunctionalGroupsSequence"),
        "PixelValueTransformationSequence",
        "RescaleSlope",
    )
    source = item if item is not None else dataset
    slope = float_value(source.get("RescaleSlope", 1) or 1, "RescaleSlope")
    return slope, float_value(source.get("RescaleIntercept", 0) or 0, "RescaleIntercept")


def _pixel_array(dataset: Dataset) -> npt.NDArray[Any]:
    """(rows, columns), or (frames, rows, columns), stored values of a grey-scale image."""
    samples = int(dataset.get("SamplesPerPixel", 1) or 1)
    if samples != 1:
        # (rows, columns, samples) would be taken for frames; a label map has one value a voxel.
        raise UnsupportedError(
            "Not a grey-scale image", f"SamplesPerPixel {samples}: include=image needs 1"
        )
    try:
        return np.asarray(dataset.pixel_array)
    except (AttributeError, ValueError, RuntimeError, NotImplementedError) as error:
        raise UnsupportedError("Cannot decode the image pixels", str(error)) from error


def rescaled_slices(
    images: Sequence[Dataset],
    geometry: VolumeGeometry,
    with_pixels: Callable[[int], Dataset] | None = None,
) -> tuple[bool, Iterator[npt.NDArray[Any]]]:
    """Whether every rescale is in whole numbers, and each slice k of ``geometry`` in order:
    (rows, columns) values after the modality rescale, int64 where whole, else float32. One
    slice at a time, so that a caller may reduce them without holding the volume. 422 where
    the images are not on ``geometry``.

    ``with_pixels(n)``, where given, reads image n with its pixels when its slices are
    decoded, so that ``images`` may be headers only and no more than one image's pixels are
    held at a time."""
    read = with_pixels or images.__getitem__
    image_geometry, sources = geometry_from_images(images)
    if image_geometry.shape != geometry.shape or not np.allclose(
        image_geometry.affine, geometry.affine, atol=1e-3
    ):
        raise UnprocessableError(
            "Images not on the label map's grid", "include=image needs grid=source"
        )
    rescales = [_rescale(images[dataset], frame) for dataset, frame in sources]
    whole = all(slope.is_integer() and intercept.is_integer() for slope, intercept in rescales)

    def slices() -> Iterator[npt.NDArray[Any]]:
        multi_frame: dict[int, npt.NDArray[Any]] = {}  # decoded once, used for many slices
        for (dataset, frame), (slope, intercept) in zip(sources, rescales, strict=True):
            pixels = multi_frame.get(dataset)
            if pixels is None:
                pixels = _pixel_array(read(dataset))
                if pixels.ndim == 3:
                    multi_frame[dataset] = pixels
            plane = pixels[frame] if pixels.ndim == 3 else pixels
            if not whole:
                yield plane * np.float32(slope) + np.float32(intercept)
                continue
            values = plane.astype(np.int64)
            if slope != 1:
                values *= int(slope)
            values += int(intercept)
            yield values

    return whole, slices()


@as_broken_file
def image_volume(images: Sequence[Dataset], geometry: VolumeGeometry) -> npt.NDArray[Any]:
    """(slices, rows, columns) pixel values of ``images`` on ``geometry`` with the modality
    rescale applied: int16 (or int32) where slopes and intercepts are whole numbers, as for CT
    in Hounsfield units, else float32. 422 where the images are not on ``geometry``."""
    whole, slices = rescaled_slices(images, geometry)
    # Slice by slice into int16 while every slice fits (CT in HU does): no whole-volume int32
    # or float64 temporary, no final cast. A slice that does not fit widens the volume once.
    volume = np.empty(geometry.shape, dtype=np.int16 if whole else np.float32)
    for k, values in enumerate(slices):
        if (
            volume.dtype == np.int16
            and values.size
            and (values.min() < -32768 or values.max() > 32767)
        ):
            volume = volume.astype(np.int32)
        volume[k] = values
    return volume
