"""The image values inside each segment: mean, standard deviation, extremes and percentiles,
with NumPy's definitions (population standard deviation, linear percentiles).

Images of 8- or 16-bit integers (CT in HU) are counted once into a histogram of their values,
from which every figure follows: one pass over the segment's values instead of the six of
``mean``, ``std``, ``min``, ``max`` and ``percentile`` (whose partition dominates). Other images
(float, 32-bit) take NumPy's functions directly.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable, Sequence
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


def streamed_image_figures(
    segments: Sequence[Segment],
    layer_slice: Callable[[int, int], npt.NDArray[Any]],
    slices: Iterable[npt.NDArray[Any]],
) -> list[ImageFigures | None]:
    """:func:`image_figures` of ``segments`` in the image given one slice at a time, in order
    (:func:`segmesh.images.image_volume.image_slices`: int16, int64 where the volume is
    int32, or float32), ``layer_slice(layer, k)`` (rows, columns) giving slice k of a layer.

    The same figures: each segment's values are gathered in the order ``image[box][mask]``
    has them (slice by slice, each in row-major order) and cast to the dtype the whole
    volume would have. Held at once: one slice of the image and of a layer, and the values of
    the segments' voxels (not the volume, nor the layers mapped)."""
    wanted = {(segment.layer, segment.value): n for n, segment in enumerate(segments)}
    layers = sorted({segment.layer for segment in segments})
    chunks: list[list[npt.NDArray[Any]]] = [[] for _ in segments]
    kinds: set[str] = set()
    for k, image in enumerate(slices):
        kinds.add(image.dtype.name)
        for layer in layers:
            plane = layer_slice(layer, k).reshape(-1)
            found = np.flatnonzero(plane)
            if not found.size:
                continue
            # Stable (a radix sort for 8- and 16-bit labels): each label's voxels stay in
            # row-major order.
            order = np.argsort(plane[found], kind="stable")
            found = found[order]
            labels = plane[found]
            values = image.reshape(-1)[found]  # a copy: the image slice may be a buffer
            bounds = [0, *(np.flatnonzero(np.diff(labels)) + 1).tolist(), labels.size]
            for start, stop in itertools.pairwise(bounds):
                n = wanted.get((layer, int(labels[start])))
                if n is not None:
                    chunks[n].append(values[start:stop])
    dtype = np.dtype(
        np.float32 if "float32" in kinds else np.int32 if "int64" in kinds else np.int16
    )
    return [
        ImageFigures.of(np.concatenate(parts).astype(dtype, copy=False)) if parts else None
        for parts in chunks
    ]
