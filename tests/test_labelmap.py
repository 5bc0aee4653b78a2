"""Unit tests of segment selection and layer packing."""

from __future__ import annotations

import pickle
from typing import Any

import numpy as np
import pytest

from segmesh.errors import BadRequestError, LimitExceededError
from segmesh.geometry import VolumeGeometry
from segmesh.labelmap import LayerBuilder, Segment, select_segments

SEGMENTS = [Segment(3, "c", (1, 2, 3)), Segment(1, "a", (1, 2, 3)), Segment(2, "b", (1, 2, 3))]


def test_selection_keeps_the_sources_order_and_drops_repeats() -> None:
    chosen = select_segments(SEGMENTS, [2, 3, 2], "the SEG holds segments")
    assert [segment.number for segment in chosen] == [3, 2]
    assert select_segments(SEGMENTS, None, "x") == SEGMENTS


def test_unknown_numbers_are_named_with_what_is_held() -> None:
    with pytest.raises(BadRequestError, match=r"\[7, 9\]: the SEG holds segments \[1, 2, 3, 5\]"):
        select_segments(SEGMENTS, [9, 1, 7], "the SEG holds segments", also_held=[5])


def test_overlapping_segments_go_to_separate_layers() -> None:
    geometry = VolumeGeometry((1, 2, 2), np.eye(4), "1.2.3", np.zeros((1, 3)))
    builder = LayerBuilder(geometry, np.dtype(np.uint8))
    first = np.array([[True, True], [False, False]])
    builder.add(Segment(1, "a", (0, 0, 0)), {0: first})
    builder.add(Segment(2, "b", (0, 0, 0)), {0: np.array([[False, True], [True, False]])})
    builder.add(Segment(3, "c", (0, 0, 0)), {0: np.array([[False, False], [False, True]])})
    labelmap = builder.build()
    assert [segment.layer for segment in labelmap.segments] == [0, 1, 0]
    np.testing.assert_array_equal(labelmap.mask(1)[0], first)
    np.testing.assert_array_equal(labelmap.layers[1, 0], [[0, 2], [2, 0]])


@pytest.mark.parametrize(
    "slices",
    [[1, 2, 3], [3, 2, 1], [4, 0, 2], [4, 2, 0]],
    ids=["consecutive", "descending", "scattered", "scattered-descending"],
)
def test_a_block_lands_where_its_slices_would(slices: list[int]) -> None:
    """add_block of masks on slices ``slices`` packs and writes what add of each slice does."""
    geometry = VolumeGeometry((5, 6, 7), np.eye(4), "1.2.3", np.zeros((5, 3)))
    rng = np.random.default_rng(11)
    k = np.array(slices, dtype=np.int64)
    blocks = [rng.random((len(slices), 3, 4)) > 0.5 for _ in range(3)]
    by_block = LayerBuilder(geometry, np.dtype(np.uint8))
    by_slice = LayerBuilder(geometry, np.dtype(np.uint8))
    for number, masks in enumerate(blocks, start=1):
        segment = Segment(number, str(number), (0, 0, 0))
        by_block.add_block(segment, k, 2, 3, masks)
        whole = np.zeros((len(slices), 6, 7), dtype=np.bool_)
        whole[:, 2:5, 3:7] = masks
        by_slice.add(segment, dict(zip(slices, whole, strict=True)))
    expected, built = by_slice.build(), by_block.build()
    assert built.layers.shape[0] >= 2  # random masks overlap: more than one layer
    assert [s.layer for s in built.segments] == [s.layer for s in expected.segments]
    np.testing.assert_array_equal(built.layers, expected.layers)


def test_boxes_are_each_segments_voxel_extent_and_survive_pickling() -> None:
    geometry = VolumeGeometry((4, 5, 6), np.eye(4), "1.2.3", np.zeros((4, 3)))
    builder = LayerBuilder(geometry, np.dtype(np.uint8))
    rng = np.random.default_rng(3)
    masks = {number: rng.random((4, 5, 6)) > 0.93 for number in (1, 2)}
    for number, mask in masks.items():
        builder.add(Segment(number, str(number), (0, 0, 0)), dict(enumerate(mask)))
    builder.add(Segment(3, "empty", (0, 0, 0)), {})
    labelmap = builder.build()
    for number, mask in masks.items():
        where = np.argwhere(mask)
        expected = tuple(
            slice(int(a), int(b) + 1) for a, b in zip(where.min(0), where.max(0), strict=True)
        )
        segment = labelmap.segment(number)
        assert labelmap.box(segment) == expected
        assert pickle.loads(pickle.dumps(labelmap)).box(segment) == expected
    assert labelmap.box(labelmap.segment(3)) is None


@pytest.mark.parametrize("max_voxels", [None, 6 * 4, 5 * 4], ids=["no-limit", "6-layers", "5"])
def test_layers_grow_in_place_up_to_the_limit(max_voxels: int | None) -> None:
    """Six segments on the same voxel: six layers, each written once where it was made (the
    map is a view of them, not a stack copied at the end), and a 413 where MaxVoxels holds
    fewer, raised before the layer beyond it."""
    geometry = VolumeGeometry((1, 2, 2), np.eye(4), "1.2.3", np.zeros((1, 3)))
    builder = LayerBuilder(geometry, np.dtype(np.uint8), max_voxels)
    corner = np.array([[True, False], [False, False]])
    for number in range(1, 6):
        builder.add(Segment(number, str(number), (0, 0, 0)), {0: corner})
    if max_voxels == 5 * 4:
        with pytest.raises(LimitExceededError, match="6 layer"):
            builder.add(Segment(6, "6", (0, 0, 0)), {0: corner})
        return
    builder.add(Segment(6, "6", (0, 0, 0)), {0: ~corner})  # fits in layer 0
    builder.add(Segment(7, "7", (0, 0, 0)), {0: corner})
    labelmap = builder.build()
    assert [s.layer for s in labelmap.segments] == [0, 1, 2, 3, 4, 0, 5]
    assert labelmap.layers.shape == (6, 1, 2, 2)
    assert labelmap.layers[:, 0, 0, 0].tolist() == [1, 2, 3, 4, 5, 7]
    assert labelmap.layers[0, 0].tolist() == [[1, 6], [6, 6]]
    assert not labelmap.layers[1:, 0, 1].any()
    assert np.shares_memory(labelmap.layers, builder.build().layers)


def test_layers_without_room_where_the_system_refuses_it(monkeypatch: pytest.MonkeyPatch) -> None:
    """Where the system commits no memory it was not asked to write (strict overcommit), the
    room for more layers is refused: the layers needed alone are allocated, the same map."""
    geometry = VolumeGeometry((1, 2, 2), np.eye(4), "1.2.3", np.zeros((1, 3)))
    zeros = np.zeros
    asked: list[int] = []

    def strict(shape: tuple[int, ...], dtype: np.dtype[Any]) -> np.ndarray:
        asked.append(shape[0])
        if len(shape) == 4 and shape[0] > 2:  # the room for 8 layers refused
            raise MemoryError
        return zeros(shape, dtype=dtype)

    monkeypatch.setattr(np, "zeros", strict)
    builder = LayerBuilder(geometry, np.dtype(np.uint8))
    corner = np.array([[True, False], [False, False]])
    for number in (1, 2):
        builder.add(Segment(number, str(number), (0, 0, 0)), {0: corner})
    monkeypatch.undo()
    labelmap = builder.build()
    assert asked == [0, 1, 8, 2]
    assert labelmap.layers.shape == (2, 1, 2, 2)
    assert labelmap.layers[:, 0, 0, 0].tolist() == [1, 2]
