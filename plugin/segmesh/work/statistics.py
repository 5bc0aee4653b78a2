"""A label map's statistics, made in two workers at once: its own figures and boxes
(:class:`MeasureLabelMap`), and the image's figures inside each segment (:class:`MeasureImage`).
The layers reach them on disk (:mod:`segmesh.worker_io.packed_files`), mapped, not copied."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ..dicom.part10 import read_image
from ..geometry import VolumeGeometry
from ..images.image_volume import image_volume
from ..labelmap import LabelMap, LayerBoxes, Segment
from ..statistics import ImageFigures, SegmentStatistics, image_figures, segment_statistics
from ..worker_io.packed_files import PackedArray


@dataclass(frozen=True)
class MeasuredLabelMap:
    """A label map's segment statistics without the image figures, as a worker sends them
    back, with the boxes of its layers (:meth:`LabelMap.boxes_found`) for the label map it
    was sent from to keep."""

    statistics: list[SegmentStatistics]
    boxes: LayerBoxes


@dataclass(frozen=True, slots=True)
class MeasureLabelMap:
    """:func:`segmesh.statistics.segment_statistics` of the label map of ``layers`` (layers,
    slices, rows, columns), ``geometry`` and ``segments``, without the image, on the ``boxes``
    already found of its layers (the others found there)."""

    layers: PackedArray
    geometry: VolumeGeometry
    segments: tuple[Segment, ...]
    boxes: LayerBoxes

    def run(self) -> MeasuredLabelMap:
        """The figures, and every layer's boxes."""
        labelmap = LabelMap(self.layers.mapped(), self.geometry, self.segments)
        labelmap.adopt_boxes(self.boxes)
        statistics = segment_statistics(labelmap)
        return MeasuredLabelMap(statistics, labelmap.boxes_found())


@dataclass(frozen=True, slots=True)
class MeasureImage:
    """:func:`segmesh.statistics.image_figures` of each segment of a label map (as in
    :class:`MeasureLabelMap`) in the image of ``image_files``, the Part-10 files of the
    referenced series whose grid the label map is on: values after the modality rescale, HU
    for CT. 400 where an image file is unreadable."""

    layers: PackedArray
    geometry: VolumeGeometry
    segments: tuple[Segment, ...]
    boxes: LayerBoxes
    image_files: Sequence[bytes]

    def run(self) -> list[ImageFigures | None]:
        """Each segment's figures, in the order of ``segments``."""
        labelmap = LabelMap(self.layers.mapped(), self.geometry, self.segments)
        labelmap.adopt_boxes(self.boxes)
        image = image_volume([read_image(file) for file in self.image_files], self.geometry)
        return image_figures(labelmap, self.segments, image)
