"""The histogram of an image series' values after the modality rescale (HU for CT): what a
threshold dialog draws to pick its bounds."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
from pydicom.dataset import Dataset

from ..dicom.malformed import as_broken_file
from ..images.image_volume import rescaled_slices
from ..mesh.threshold import threshold_grid
from ..settings import Settings

#: The most bins a histogram is asked for (:mod:`segmesh.requests.queries` refuses more).
MAX_BINS = 4096


@dataclass(frozen=True)
class ValueHistogram:
    """``counts`` (bins,) voxels in [edges[n], edges[n + 1]) (the last bin closed), ``edges``
    (bins + 1,) in ``unit``; ``minimum`` and ``maximum`` the series' extremes."""

    unit: str
    edges: npt.NDArray[np.float64]
    counts: npt.NDArray[np.int64]
    minimum: float
    maximum: float

    def to_json(self) -> dict[str, Any]:
        """``{"Unit", "Edges", "Counts", "Min", "Max", "Voxels"}``."""
        return {
            "Unit": self.unit,
            "Edges": [float(edge) for edge in self.edges],
            "Counts": [int(count) for count in self.counts],
            "Min": self.minimum,
            "Max": self.maximum,
            "Voxels": int(self.counts.sum()),
        }


def unit_of(dataset: Dataset) -> str:
    """The rescaled values' unit: RescaleType, else HU for CT (whose rescale gives HU)."""
    rescale_type = str(dataset.get("RescaleType", "") or "")
    if rescale_type:
        return rescale_type
    return "HU" if str(dataset.get("Modality", "")) == "CT" else ""


@as_broken_file
def value_histogram(
    images: Sequence[Dataset],
    bins: int,
    settings: Settings,
    with_pixels: Callable[[int], Dataset] | None = None,
) -> ValueHistogram:
    """The histogram of ``bins`` equal bins from the series' minimum to its maximum;
    ``images`` may be headers only where ``with_pixels(n)`` reads image n with its pixels.

    Two passes over the decoded slices (extremes, then counts), so that neither the volume
    nor a float copy of it is held: a large scan's histogram costs a slice of memory."""
    geometry = threshold_grid(images, settings)
    minimum, maximum = np.inf, -np.inf
    for values in rescaled_slices(images, geometry, with_pixels)[1]:
        minimum = min(minimum, float(values.min()))
        maximum = max(maximum, float(values.max()))
    top = maximum if maximum > minimum else minimum + 1.0
    edges = np.linspace(minimum, top, bins + 1)
    counts = np.zeros(bins, dtype=np.int64)
    for values in rescaled_slices(images, geometry, with_pixels)[1]:
        counts += np.histogram(values, bins=edges)[0]
    return ValueHistogram(unit_of(images[0]), edges, counts, minimum, maximum)
