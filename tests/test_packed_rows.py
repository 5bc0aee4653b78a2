"""The occupied rows of packed 1-bit frames (``segmesh.seg.pixels.packed_rows``), read as wider
integers: the same as numpy's ``any`` row by row, for every row length a SEG can have."""

from __future__ import annotations

import numpy as np
import pytest

from segmesh.seg.pixels import packed_rows


def expected_rows(packed: np.ndarray) -> list[tuple[int, int]]:
    """First and end occupied row of each frame, frame by frame: (0, 0) where empty."""
    rows = []
    for frame in packed:
        occupied = np.flatnonzero(frame.any(axis=1))
        rows.append((int(occupied[0]), int(occupied[-1]) + 1) if occupied.size else (0, 0))
    return rows


@pytest.mark.parametrize("row_bytes", [1, 2, 3, 5, 8, 16, 24, 32, 40, 64, 72, 128, 200])
def test_occupied_rows_match_numpy_for_every_row_length(row_bytes: int) -> None:
    rng = np.random.default_rng(row_bytes)
    frames, rows = 7, 9
    packed = np.zeros((frames, rows, row_bytes), dtype=np.uint8)
    for frame in range(1, frames):  # frame 0 stays empty
        for _ in range(frame):
            row, byte = int(rng.integers(rows)), int(rng.integers(row_bytes))
            packed[frame, row, byte] = 1 << int(rng.integers(8))
    # One bit in the last byte of the last row: no byte of a row is left unread.
    packed[-1, -1, -1] = 0x80
    found = packed_rows(packed)
    assert found == expected_rows(packed)
    assert found[0] == (0, 0)
    assert found[-1][1] == rows
