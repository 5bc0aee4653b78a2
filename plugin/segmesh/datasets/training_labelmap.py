"""One case's training label map: a single layer of training values out of a layered label map."""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

from ..errors import UnprocessableError
from ..labelmap import LabelMap, Segment
from .training_labels import CaseLabels


def _table(
    layer: npt.NDArray[Any], segments: list[Segment], case: CaseLabels, dtype: np.dtype[Any]
) -> npt.NDArray[Any]:
    """Layer value -> training value, sized to hold every value of the layer."""
    # uint8 and uint16 layers take a full table (at most 128 KiB) without a pass to find a max.
    size = (
        int(np.iinfo(layer.dtype).max) + 1
        if layer.dtype.itemsize <= 2
        else int(layer.max(initial=0)) + 1
    )
    table = np.zeros(max(size, max(s.value for s in segments) + 1), dtype=dtype)
    for segment in segments:
        table[segment.value] = case.values[segment.number]
    return table


def _is_identity(
    labelmap: LabelMap, matched: list[Segment], case: CaseLabels, dtype: np.dtype[Any]
) -> bool:
    """Whether the label map's one layer is the training map already: every segment matched,
    to its own value, in the same dtype (segments numbered as the labels are: no pass at all)."""
    return (
        labelmap.layers.shape[0] == 1
        and labelmap.layers.dtype == dtype
        and len(matched) == len(labelmap.segments)
        and all(case.values[s.number] == s.value for s in matched)
    )


def training_labelmap(
    labelmap: LabelMap, case: CaseLabels, count: int
) -> npt.NDArray[np.unsignedinteger[Any]]:
    """(slices, rows, columns) uint8 (``count`` <= 255) or uint16 training labels: 0 background,
    else the training value ``case.values`` gives each matched segment; other segments are
    background.

    One table lookup per layer, then layers merged; 422 where two layers put different
    training values in one voxel (the count names one such pair of segments).
    """
    dtype = np.dtype(np.uint8 if count <= 255 else np.uint16)
    matched = [s for s in labelmap.segments if s.number in case.values]
    if _is_identity(labelmap, matched, case, dtype):
        return labelmap.layers[0]
    by_value = {case.values[s.number]: s for s in matched}
    merged: npt.NDArray[Any] | None = None
    for index in range(labelmap.layers.shape[0]):
        in_layer = [s for s in matched if s.layer == index]
        if not in_layer:
            continue
        layer = labelmap.layers[index]
        gathered = _table(layer, in_layer, case, dtype)[layer]
        if merged is None:
            merged = gathered
            continue
        clash = (merged != 0) & (gathered != 0) & (merged != gathered)
        if clash.any():
            first = np.flatnonzero(clash)[0]
            a, b = int(merged.flat[first]), int(gathered.flat[first])
            voxels = int(np.count_nonzero(clash & (merged == a) & (gathered == b)))
            raise UnprocessableError(
                "Overlapping segments",
                f"{voxels} voxels are in both {by_value[a].label} and {by_value[b].label}",
            )
        np.copyto(merged, gathered, where=merged == 0)
    if merged is None:
        return np.zeros(labelmap.geometry.shape, dtype=dtype)
    return merged
