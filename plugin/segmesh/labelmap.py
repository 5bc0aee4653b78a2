"""Label maps: layered integer volumes on a :class:`VolumeGeometry`, with their segments.

Overlapping segments are never lost: a label map holds layers, each a non-overlapping
labelling (as 3D Slicer's ``.seg.nrrd`` does). A segment's voxels carry its number as value in
exactly one layer.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from .geometry import VolumeGeometry

BoolArray = npt.NDArray[np.bool_]


@dataclass(frozen=True)
class Segment:
    """One segment (SEG segment or RT-STRUCT ROI).

    ``color`` is RGB 0-255; ``layer`` and ``value`` say where its voxels are in the label map
    (``value`` is the segment number). ``attributes`` holds JSON-ready extras (codes, types).
    """

    number: int
    label: str
    color: tuple[int, int, int]
    layer: int = 0
    attributes: Mapping[str, Any] = field(default_factory=dict)

    @property
    def value(self) -> int:
        """The voxel value of this segment in its layer."""
        return self.number

    def to_json(self) -> dict[str, Any]:
        """JSON-ready description."""
        return {
            "Number": self.number,
            "Label": self.label,
            "Color": list(self.color),
            "Layer": self.layer,
            "Value": self.value,
            **self.attributes,
        }


@dataclass(frozen=True, eq=False)
class LabelMap:
    """``layers`` (layers, slices, rows, columns), uint8 or uint16, on ``geometry``."""

    layers: npt.NDArray[np.unsignedinteger[Any]]
    geometry: VolumeGeometry
    segments: tuple[Segment, ...]

    def segment(self, number: int) -> Segment:
        """The segment of that number; KeyError where there is none."""
        for segment in self.segments:
            if segment.number == number:
                return segment
        raise KeyError(number)

    def mask(self, number: int) -> BoolArray:
        """(slices, rows, columns) boolean mask of one segment."""
        segment = self.segment(number)
        return np.asarray(self.layers[segment.layer] == segment.value)


def label_dtype(segment_numbers: list[int]) -> np.dtype[Any]:
    """uint8 where every number fits, else uint16."""
    return np.dtype(np.uint8 if max(segment_numbers, default=0) <= 255 else np.uint16)


class LayerBuilder:
    """Packs segments into as few non-overlapping layers as possible, first fit.

    Segments are added one at a time, each as a mapping from slice index k to its
    (rows, columns) boolean mask on that slice; a segment goes to the first layer where it
    overlaps nothing already there.
    """

    def __init__(self, geometry: VolumeGeometry, dtype: np.dtype[Any]) -> None:
        self.geometry = geometry
        self.dtype = dtype
        self._layers: list[npt.NDArray[Any]] = []
        self._segments: list[Segment] = []

    def add(self, segment: Segment, slices: Mapping[int, BoolArray]) -> Segment:
        """Place ``segment`` with its per-slice masks; returns it with its layer set."""
        layer = next(
            (
                index
                for index, volume in enumerate(self._layers)
                if not any(np.any(volume[k][mask]) for k, mask in slices.items())
            ),
            None,
        )
        if layer is None:
            layer = len(self._layers)
            self._layers.append(np.zeros(self.geometry.shape, dtype=self.dtype))
        volume = self._layers[layer]
        for k, mask in slices.items():
            volume[k][mask] = segment.number
        placed = Segment(segment.number, segment.label, segment.color, layer, segment.attributes)
        self._segments.append(placed)
        return placed

    def build(self) -> LabelMap:
        """The label map; at least one (empty) layer."""
        layers = self._layers or [np.zeros(self.geometry.shape, dtype=self.dtype)]
        # One layer is the common case: a view avoids copying the whole volume.
        stacked = layers[0][np.newaxis] if len(layers) == 1 else np.stack(layers)
        return LabelMap(stacked, self.geometry, tuple(self._segments))
