"""segmesh.image_volume: the referenced series as a volume, rescale applied."""

from __future__ import annotations

import numpy as np
import pytest

from segmesh.dicom.image_volume import image_volume
from segmesh.errors import UnsupportedError
from segmesh.geometry import geometry_from_images
from tests.test_seg_roundtrip import SHAPE, ct_series


def test_hounsfield_units_on_the_series_grid() -> None:
    images = ct_series()
    geometry = geometry_from_images(images)[0]
    volume = image_volume(images[::-1], geometry)  # any order: placed by position
    assert volume.dtype == np.int16
    np.testing.assert_array_equal(volume[:, 0, 0], np.arange(SHAPE[0]))


def test_colour_images_are_refused() -> None:
    """RGB pixels (rows, columns, 3) must not be taken for frames: 415, not a traceback."""
    images = ct_series()
    for image in images:
        image.SamplesPerPixel, image.PhotometricInterpretation = 3, "RGB"
        image.PlanarConfiguration = 0
        image.BitsAllocated, image.BitsStored, image.HighBit = 8, 8, 7
        image.PixelRepresentation = 0
        image.PixelData = np.zeros((*SHAPE[1:], 3), dtype=np.uint8).tobytes()
    with pytest.raises(UnsupportedError, match="SamplesPerPixel 3"):
        image_volume(images, geometry_from_images(images)[0])
