"""A label map's statistics, made in two workers at once: its own figures and boxes
(:class:`MeasureLabelMap`), and the image's figures inside each segment (:class:`MeasureImage`).
The layers reach them on disk (:mod:`segmesh.worker_io.packed_files`) and are read from there a
box or a slice at a time, never mapped whole: at 1000 segments scattered over a CT, mapping the
boxes mapped nearly all the layers into each worker's resident memory, and the image volume
with its files held grew each by 3x the image (about 450 MB on 512 x 512 x 300)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ..dicom.malformed import as_broken_file
from ..dicom.part10 import read_image
from ..geometry import GRID_KEYWORDS, VolumeGeometry
from ..images.image_volume import image_slices
from ..labelmap import LabelMap, LayerBoxes, Segment, slab_boxes
from ..statistics import (
    ImageFigures,
    SegmentStatistics,
    segment_statistics,
    streamed_image_figures,
)
from ..worker_io.packed_files import PackedArray
from ..worker_io.stored_files import read_headers

#: What the image's slices are placed and rescaled from: its headers hold these alone.
_IMAGE_KEYWORDS = (*GRID_KEYWORDS, "RescaleSlope", "RescaleIntercept")


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
        labelmap = _boxed_labelmap(self.layers, self.geometry, self.segments, self.boxes)
        statistics = segment_statistics(labelmap, box_values=self.layers.read_box)
        return MeasuredLabelMap(statistics, labelmap.boxes_found())


@dataclass(frozen=True, slots=True)
class MeasureImage:
    """:func:`segmesh.statistics.image_figures` of each segment of a label map (``layers``,
    ``geometry``, ``segments`` as in :class:`MeasureLabelMap`) in the image of
    ``image_files``, the Part-10 files of the referenced series whose grid the label map is
    on: values after the modality rescale, HU for CT. 400 where an image file is
    unreadable."""

    layers: PackedArray
    geometry: VolumeGeometry
    segments: tuple[Segment, ...]
    image_files: Sequence[bytes]

    @as_broken_file
    def run(self) -> list[ImageFigures | None]:
        """Each segment's figures, in the order of ``segments``: the headers first, then each
        image file read with its pixels as its slice is reached, with that slice of each layer
        (the same figures as :func:`segmesh.statistics.image_figures` of the whole volume)."""
        files = self.image_files
        headers = read_headers(files, _IMAGE_KEYWORDS)
        slices = image_slices(headers, self.geometry, lambda n: read_image(files[n]))
        whole = (slice(None), slice(None))
        return streamed_image_figures(
            self.segments,
            lambda layer, k: self.layers.read_box(layer, (slice(k, k + 1), *whole))[0],
            slices,
        )


def _boxed_labelmap(
    layers: PackedArray,
    geometry: VolumeGeometry,
    segments: tuple[Segment, ...],
    boxes: LayerBoxes,
) -> LabelMap:
    """The label map of ``layers`` (mapped, never read whole here) with the boxes of every
    layer its segments are on: ``boxes`` where given, else found slab by slab
    (:func:`segmesh.labelmap.slab_boxes`)."""
    labelmap = LabelMap(layers.mapped(), geometry, segments)
    for layer in {segment.layer for segment in segments}:
        known = boxes.get(layer)
        labelmap.adopt_boxes(
            {layer: known if known is not None else slab_boxes(layers.slabs(layer))}
        )
    return labelmap
