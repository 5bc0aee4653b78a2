"""The image values inside each segment: mean, standard deviation, extremes and percentiles,
with NumPy's definitions (population standard deviation, linear percentiles).

Images of 8- or 16-bit integers (CT in HU) are counted once into a histogram of their values,
from which every figure follows: one pass over the segment's values instead of the six of
``mean``, ``std``, ``min``, ``max`` and ``percentile`` (whose partition dominates). Other images
(float, 32-bit) take NumPy's functions directly.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from ..labelmap import LabelMap, Segment

#: Percentiles of ``ImageFigures`` (numpy's linear method).
PERCENTILES = (5.0, 50.0, 95.0)


@dataclass(frozen=True)
class ImageFigures:
    """Image values of one segment's voxels, in the image's units (HU for CT)."""

    mean: float
    std: float
    min: float
    p5: float
    median: float
    p95: float
    max: float

    @classmethod
    def of(cls, values: npt.NDArray[Any]) -> ImageFigures:
        """Figures of ``values`` (N,), N >= 1, in float64."""
        data = np.asarray(values)
        if data.dtype.kind in "iu" and data.dtype.itemsize <= 2:
            return _of_counts(data)
        # The percentiles partition the values in their own type.
        p5, median, p95 = np.percentile(data, PERCENTILES)
        mean = float(data.mean(dtype=np.float64))
        std = float(data.std(dtype=np.float64))
        return cls(mean, std, float(data.min()), float(p5), float(median), float(p95),
                   float(data.max()))  # fmt: skip


def _of_counts(data: npt.NDArray[np.integer[Any]]) -> ImageFigures:
    """:meth:`ImageFigures.of` of 8- or 16-bit integers (N,) through their histogram, to the
    last bit where NumPy's sum is exact (integer partial sums below 2**53) and within
    rounding of the summation order for the standard deviation."""
    low, high = int(data.min()), int(data.max())
    shifted = data.astype(np.intp)
    shifted -= low
    counts = np.bincount(shifted, minlength=high - low + 1)
    levels = np.arange(low, high + 1, dtype=np.int64)
    n = int(data.size)
    mean = float(int(counts @ levels)) / n
    deviations = levels - mean
    std = float(np.sqrt(float(counts @ (deviations * deviations)) / n))
    # NumPy's "linear" method: virtual index (n - 1) q between order statistics floor and
    # floor + 1, interpolated as numpy.lib's _lerp does (from the nearer end).
    virtual = (n - 1) * (np.asarray(PERCENTILES) / 100)
    below = np.floor(virtual)
    gamma = virtual - below
    ranks = np.minimum(np.stack([below, below + 1]).astype(np.int64), n - 1)
    ordered = levels[np.searchsorted(np.cumsum(counts), ranks, side="right")].astype(np.float64)
    a, b = ordered
    difference = b - a
    percentiles = np.where(gamma >= 0.5, b - difference * (1 - gamma), a + difference * gamma)
    p5, median, p95 = (float(value) for value in percentiles)
    return ImageFigures(mean, std, float(low), p5, median, p95, float(high))


def image_figures(
    labelmap: LabelMap, segments: Sequence[Segment], image: npt.NDArray[Any]
) -> list[ImageFigures | None]:
    """The figures of ``image`` (slices, rows, columns) on the label map's grid inside each of
    ``segments`` (its own), on each segment's box; None for a segment without voxels."""
    figures: list[ImageFigures | None] = []
    for segment in segments:
        box = labelmap.box(segment)
        if box is None:
            figures.append(None)
            continue
        mask = labelmap.layers[segment.layer][box] == segment.value
        figures.append(ImageFigures.of(image[box][mask]))
    return figures
