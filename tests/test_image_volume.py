"""segmesh.image_volume: the referenced series as a volume, rescale applied."""

from __future__ import annotations

import numpy as np
import pytest

from segmesh.errors import UnsupportedError
from segmesh.geometry import geometry_from_images
from segmesh.images.image_volume import image_volume
from tests import builders
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


def _restored(stored: np.ndarray, signed: bool, slope: float, intercept: float) -> list:
    """``builders.ct_series`` images whose pixels are ``stored`` (slices, rows, columns), 16 bit
    (``signed`` or not), with that rescale."""
    images = builders.ct_series(stored.shape, (0.7, 0.9, 2.0))
    for image, plane in zip(images, stored, strict=True):
        image.PixelRepresentation = int(signed)
        image.PixelData = plane.astype("<i2" if signed else "<u2").tobytes()
        image.RescaleSlope, image.RescaleIntercept = slope, intercept
    return images


@pytest.mark.parametrize(
    ("signed", "low", "high", "slope", "intercept", "dtype"),
    [
        (False, 0, 4095, 1, -1024, np.int16),  # CT: unsigned stored values, HU in int16
        (True, -2000, 3000, 2, -3, np.int16),  # a whole slope, in int16 arithmetic
        (True, -3000, 3000, -1, 7, np.int16),  # a negative slope
        (False, 0, 65535, 1, -1024, np.int32),  # stored values beyond int16: widened
        (True, -100, 5000, 1, 30000, np.int32),  # HU beyond int16 after the intercept
        (True, -32768, 32767, -1, 0, np.int32),  # -(-32768) does not fit
        (False, 0, 4095, 0.5, -1024.25, np.float32),  # fractional: float32
    ],
)
def test_rescale_is_exact_on_every_path(
    signed: bool, low: int, high: int, slope: float, intercept: float, dtype: type
) -> None:
    """Fast paths (int16 arithmetic, Pixel Data read in place) give the values of pydicom's
    pixels rescaled in float64, in the dtype the values need."""
    rng = np.random.default_rng(3)
    stored = rng.integers(low, high + 1, size=(4, 6, 5))
    stored[0, 0, :2] = low, high  # both ends present
    images = _restored(stored, signed, slope, intercept)
    expected = np.stack([image.pixel_array.astype(np.float64) for image in images])
    volume = image_volume(images, geometry_from_images(images)[0])
    assert volume.dtype == dtype
    np.testing.assert_array_equal(volume, (expected * slope + intercept).astype(dtype))


def test_unused_high_bits_are_read_as_pydicom_reads_them() -> None:
    """BitsStored 12 of 16 allocated is left to pydicom (the values are not read in place)."""
    stored = np.random.default_rng(5).integers(0, 4096, size=(3, 4, 4))
    images = _restored(stored, False, 1, -1024)
    for image in images:
        image.BitsStored, image.HighBit = 12, 11
    volume = image_volume(images, geometry_from_images(images)[0])
    assert volume.dtype == np.int16
    np.testing.assert_array_equal(volume, stored - 1024)
