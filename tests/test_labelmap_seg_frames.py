"""A LABELMAP SEG's frames written whole into the label map: 16-bit numbers, numbers no segment
holds, a selection, and frames sharing a slice (merged patch by patch), voxel by voxel."""

from __future__ import annotations

import copy

import numpy as np
import pydicom
import pytest
from pydicom.dataset import Dataset

from segmesh.options import LabelMapOptions
from segmesh.seg.pixels import FrameReader
from segmesh.seg.reader import seg_to_labelmap
from segmesh.settings import Settings
from tests.test_seg_roundtrip import SHAPE, ct_series, make_seg, reread


def sixteen_bit(seg: Dataset, frames: np.ndarray) -> Dataset:
    """``seg`` with ``frames`` (frames, rows, columns) as its 16-bit pixel data."""
    seg.BitsAllocated, seg.BitsStored, seg.HighBit = 16, 16, 15
    seg.PixelData = frames.astype("<u2").tobytes()
    seg["PixelData"].VR = "OW"
    return seg


def renumbered(seg: Dataset, old: int, new: int) -> None:
    """Segment ``old`` of SegmentSequence numbered ``new``."""
    for item in seg.SegmentSequence:
        if int(item.SegmentNumber) == old:
            item.SegmentNumber = new


def expected_layer(
    frames: np.ndarray, seg: Dataset, images: list[Dataset], keep: set[int]
) -> np.ndarray:
    """The (slices, rows, columns) map of ``frames`` placed on their slices, values outside
    ``keep`` zeroed."""
    by_z = sorted(float(image.ImagePositionPatient[2]) for image in images)
    layer = np.zeros(SHAPE, dtype=np.uint16)
    for group, frame in zip(seg.PerFrameFunctionalGroupsSequence, frames, strict=True):
        z = float(group.PlanePositionSequence[0].ImagePositionPatient[2])
        k = by_z.index(z)
        layer[k] = np.where(np.isin(frame, list(keep)), frame, layer[k])
    return layer


@pytest.fixture(name="labelmap_seg")
def fixture_labelmap_seg() -> tuple[Dataset, np.ndarray, list[Dataset]]:
    """A 16-bit LABELMAP SEG whose segment 3 is numbered 300, with a stray value 7000 (no
    segment's) in one frame; its frames as written; the images."""
    images = ct_series()
    seg, _ = make_seg(images, "LABELMAP")
    frames = pydicom.pixels.pixel_array(seg).reshape(-1, *SHAPE[1:]).astype(np.uint16)
    frames[frames == 3] = 300
    frames[0, 0, :4] = 7000
    renumbered(seg, 3, 300)
    return reread(sixteen_bit(seg, frames)), frames, images


def test_whole_frames_numbers_above_255_and_stray_values(
    labelmap_seg: tuple[Dataset, np.ndarray, list[Dataset]], monkeypatch: pytest.MonkeyPatch
) -> None:
    seg, frames, images = labelmap_seg

    def no_patches(*_: object) -> None:
        raise AssertionError("frames on distinct slices are read whole, never patch by patch")

    monkeypatch.setattr(FrameReader, "patches", no_patches)
    labelmap = seg_to_labelmap(seg, images, LabelMapOptions(), Settings())
    assert [s.number for s in labelmap.segments] == [1, 2, 300]
    assert labelmap.layers.dtype == np.uint16
    expected = expected_layer(frames, seg, images, {1, 2, 300})
    np.testing.assert_array_equal(labelmap.layers[0], expected)
    assert int((labelmap.layers == 300).sum()) == int((frames == 300).sum()) > 0
    assert not (labelmap.layers == 7000).any()
    chosen = seg_to_labelmap(seg, images, LabelMapOptions(segments=(2, 300)), Settings())
    np.testing.assert_array_equal(chosen.layers[0], expected_layer(frames, seg, images, {2, 300}))
    small = seg_to_labelmap(seg, images, LabelMapOptions(segments=(1, 2)), Settings())
    assert small.layers.dtype == np.uint8  # numbers below 256: a uint8 map, 300 dropped
    np.testing.assert_array_equal(small.layers[0], expected_layer(frames, seg, images, {1, 2}))


def test_frames_sharing_a_slice_are_merged(
    labelmap_seg: tuple[Dataset, np.ndarray, list[Dataset]],
) -> None:
    """Two frames on one slice (segment 1 in one, 2 in the other): both kept, neither frame's
    background erasing the other's numbers."""
    seg, frames, images = labelmap_seg
    expected = expected_layer(frames, seg, images, {1, 2, 300})
    index = next(i for i, frame in enumerate(frames) if {1, 2} <= set(np.unique(frame).tolist()))
    first = frames[index]
    split = np.concatenate([frames, first[np.newaxis]])
    split[index][first == 2] = 0
    split[-1][first != 2] = 0
    seg.PerFrameFunctionalGroupsSequence.append(
        copy.deepcopy(seg.PerFrameFunctionalGroupsSequence[index])
    )
    seg.NumberOfFrames = len(split)
    labelmap = seg_to_labelmap(
        reread(sixteen_bit(seg, split)), images, LabelMapOptions(), Settings()
    )
    np.testing.assert_array_equal(labelmap.layers[0], expected)
