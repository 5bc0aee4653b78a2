"""Pixel data mapped from the SEG's file is unmapped from the process as its frames are read
(FrameReader._release): every frame released once read, the voxels the same, also where the
file was deleted meanwhile (its pages are read again from the open mapping)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from pydicom.dataset import Dataset

from segmesh import sources
from segmesh.options import LabelMapOptions
from segmesh.seg.pixels import FrameReader
from segmesh.settings import Settings
from tests import builders

SHAPE = (5, 128, 256)  # 1-bit frames of 4 kB, 8-bit ones of 32 kB: whole pages each


def images_and_numbers() -> tuple[list[Dataset], np.ndarray]:
    """A CT of :data:`SHAPE` and segment numbers 1 to 3 on it, 2 overlapping 1 nowhere."""
    images = builders.ct_series(SHAPE, (0.5, 0.5, 1.0), (0.0, 0.0, 0.0), rescale_intercept=-1024)
    k, j, i = np.indices(SHAPE)
    numbers = np.zeros(SHAPE, dtype=np.uint8)
    numbers[(k >= 1) & (j >= 10) & (j < 90) & (i >= 20) & (i < 200)] = 1
    numbers[(k <= 3) & (j >= 95) & (i >= 100)] = 2
    numbers[4, 127, 255] = 3
    return images, numbers


@pytest.mark.parametrize("segmentation_type", ["BINARY", "LABELMAP"])
def test_frames_read_are_released(
    segmentation_type: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    images, numbers = images_and_numbers()
    array = (
        numbers
        if segmentation_type == "LABELMAP"
        else np.stack([numbers == n for n in (1, 2, 3)], axis=-1)
    )
    seg = builders.seg(images, array, ["a", "b", "c"], segmentation_type)
    path = tmp_path / "seg.dcm"
    seg.save_as(path, enforce_file_format=True)
    monkeypatch.setattr(sources, "IN_PLACE_BYTES", 64)  # the pixel data left in the file
    released: list[int] = []
    original = FrameReader._release

    def spy(reader: FrameReader, first: int, end: int) -> None:
        assert reader._mapping is not None, "the pixel data is mapped from the file"
        path.unlink(missing_ok=True)  # Orthanc may delete the instance meanwhile
        released.extend(range(first, end))
        original(reader, first, end)

    monkeypatch.setattr(FrameReader, "_release", spy)
    labelmap = sources.labelmap_of_file(str(path), images, LabelMapOptions(), Settings())
    assert set(released) == set(range(int(seg.NumberOfFrames)))
    for number in (1, 2, 3):
        np.testing.assert_array_equal(labelmap.mask(number), numbers == number)
