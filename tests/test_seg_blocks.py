"""BINARY SEGs of byte-aligned frames, read one block per segment (seg.pixels.FrameReader.block):
the same voxels as the masks written, in any frame order, and where a segment's frames share a
slice (the frame-by-frame path); pixels mapped from the file."""

from __future__ import annotations

import copy
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pydicom
import pytest
from pydicom.dataset import Dataset

from segmesh import sources
from segmesh.options import LabelMapOptions
from segmesh.seg import pixels
from segmesh.seg.reader import seg_to_labelmap
from segmesh.settings import Settings
from tests import builders
from tests.test_seg_roundtrip import reread

SHAPE = (6, 20, 40)  # 40 columns: whole bytes of 1-bit pixels per row


def images_and_masks() -> tuple[list[Dataset], dict[int, np.ndarray]]:
    images = builders.ct_series(
        SHAPE, (0.5, 0.5, 1.0), (0.0, 0.0, 0.0), (1, 0, 0, 0, 1, 0), rescale_intercept=-1024
    )
    k, j, i = np.indices(SHAPE)
    first = (k >= 1) & (k <= 4) & (j >= 2) & (j < 12) & (i >= 3) & (i < 30)
    second = (k >= 3) & (j >= 8) & (i >= 20)  # overlaps the first: a second layer
    third = (k == 5) & (j == SHAPE[1] - 1) & (i == SHAPE[2] - 1)
    return images, {1: first, 2: second, 3: third}


def binary_seg(images: list[Dataset], masks: dict[int, np.ndarray]) -> Dataset:
    stacked = np.stack([masks[n] for n in sorted(masks)], axis=-1)
    return reread(builders.seg(images, stacked, [f"S{n}" for n in sorted(masks)], "BINARY"))


def with_frames(seg: Dataset, frames: np.ndarray, groups: list[Dataset]) -> Dataset:
    seg.PerFrameFunctionalGroupsSequence = groups
    seg.NumberOfFrames = len(frames)
    seg.PixelData = np.packbits(frames.astype(np.uint8).ravel(), bitorder="little").tobytes()
    return reread(seg)


def check(seg: Dataset, images: list[Dataset], masks: dict[int, np.ndarray]) -> None:
    labelmap = seg_to_labelmap(seg, images, LabelMapOptions(), Settings())
    assert [s.layer for s in labelmap.segments] == [0, 1, 0]
    for number, mask in masks.items():
        np.testing.assert_array_equal(labelmap.mask(number), mask, err_msg=f"segment {number}")


def test_frames_in_any_order() -> None:
    images, masks = images_and_masks()
    seg = binary_seg(images, masks)
    frames = pydicom.pixels.pixel_array(seg).reshape(-1, *SHAPE[1:])
    order = np.random.default_rng(5).permutation(len(frames))
    groups = list(seg.PerFrameFunctionalGroupsSequence)
    check(with_frames(seg, frames[order], [groups[n] for n in order]), images, masks)


def scanned_in_order(
    monkeypatch: pytest.MonkeyPatch, order: Callable[[int], np.ndarray]
) -> tuple[list[int], int]:
    """The SEG of :func:`images_and_masks` with its frames stored in ``order(frame count)``,
    checked voxel for voxel; the frame counts of each scan of all frames
    (:func:`pixels.packed_rows`) it took, and its frame count."""
    scanned: list[int] = []
    original = pixels.packed_rows

    def spy(packed: np.ndarray) -> list[tuple[int, int]]:
        scanned.append(len(packed))
        return original(packed)

    monkeypatch.setattr(pixels, "packed_rows", spy)
    images, masks = images_and_masks()
    seg = binary_seg(images, masks)
    frames = pydicom.pixels.pixel_array(seg).reshape(-1, *SHAPE[1:])
    groups = list(seg.PerFrameFunctionalGroupsSequence)
    stored = order(len(frames))
    check(with_frames(seg, frames[stored], [groups[n] for n in stored]), images, masks)
    return scanned, len(frames)


def test_frames_scanned_in_parts_in_descending_order(monkeypatch: pytest.MonkeyPatch) -> None:
    """Frames in descending slice order (highdicom writes a segment's frames so), the
    segments' frames interleaved in the file (no segment's frames follow each other), so that
    their occupied rows are scanned in parts of 2 frames on the scanning threads (a large
    SEG's are): the same voxels."""
    monkeypatch.setattr(pixels, "_SCANNED_FRAMES", 4)
    monkeypatch.setattr(pixels, "_SCANNING_THREADS", 2)  # parts of 2 frames
    scanned, count = scanned_in_order(monkeypatch, lambda n: np.r_[0:n:2, 1:n:2][::-1])
    assert sorted(scanned) == [1] * (count % 2) + [2] * (count // 2)


def test_a_segments_following_frames_are_scanned_with_its_block(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Each segment's frames following each other in the file (as writers store them), in
    descending slice order: scanned as each segment's block is read, no scan of all frames
    first; the same voxels."""
    scanned, _ = scanned_in_order(monkeypatch, lambda n: np.arange(n)[::-1])
    assert scanned == []


def test_two_frames_of_a_segment_on_one_slice() -> None:
    images, masks = images_and_masks()
    seg = binary_seg(images, masks)
    frames = pydicom.pixels.pixel_array(seg).reshape(-1, *SHAPE[1:]).astype(np.bool_)
    groups = list(seg.PerFrameFunctionalGroupsSequence)
    # The first frame of segment 1 split in two: its top rows, and the rest on the same slice.
    top, rest = frames[0].copy(), frames[0].copy()
    top[6:] = False
    rest[:6] = False
    split = np.concatenate([top[np.newaxis], frames[1:], rest[np.newaxis]])
    check(with_frames(seg, split, [*groups, copy.deepcopy(groups[0])]), images, masks)


def test_pixels_left_in_the_file_are_mapped(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A SEG read from its path with its PixelData deferred (a large one's) decodes from the
    file mapped: the same voxels, the file deleted meanwhile or not."""
    images, masks = images_and_masks()
    path = tmp_path / "seg.dcm"
    binary_seg(images, masks).save_as(path, enforce_file_format=True)
    monkeypatch.setattr(sources, "IN_PLACE_BYTES", 64)
    read = []
    original = pixels._pixel_bytes

    def spy(*arguments: Any) -> bytes | memoryview:
        read.append(original(*arguments))
        path.unlink()  # Orthanc may delete the instance: its pages stay mapped
        return read[-1]

    monkeypatch.setattr(pixels, "_pixel_bytes", spy)
    labelmap = sources.labelmap_of_file(str(path), images, LabelMapOptions(), Settings())
    assert isinstance(read[0], memoryview)
    for number, mask in masks.items():
        np.testing.assert_array_equal(labelmap.mask(number), mask, err_msg=f"segment {number}")
