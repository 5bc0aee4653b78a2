"""The referenced images of a label map in the order of its slices, for writers that point
each slice or frame at its image (SEG, RT-STRUCT)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt
from pydicom.dataset import Dataset

from ..errors import UnprocessableError
from ..geometry import VolumeGeometry, geometry_from_images


def images_in_slice_order(
    target: VolumeGeometry, images: Sequence[Dataset]
) -> tuple[list[Dataset], npt.NDArray[np.intp]]:
    """``images`` sorted as the slices of ``target`` (single-frame images), or the one
    multi-frame image, with, for each of the images' frames, the slice k it shows.

    422 where ``images`` are not exactly on ``target`` (shape, affine within 1 micrometre,
    frame of reference): a writer would otherwise misplace the masks.
    """
    geometry, sources = geometry_from_images(images)
    if (
        geometry.shape != target.shape
        or not np.allclose(geometry.affine, target.affine, atol=1e-3)
        or geometry.frame_of_reference_uid != target.frame_of_reference_uid
    ):
        raise UnprocessableError(
            "Label map not on the images' grid",
            f"label map {target.shape} in {target.frame_of_reference_uid}, images "
            f"{geometry.shape} in {geometry.frame_of_reference_uid}",
        )
    if len(images) == 1:
        slice_of_frame = np.empty(len(sources), dtype=np.intp)
        slice_of_frame[[frame for _index, frame in sources]] = np.arange(len(sources))
        return [images[0]], slice_of_frame
    return [images[index] for index, _frame in sources], np.arange(len(sources))
