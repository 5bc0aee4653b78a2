"""Segment statistics of a SEG or RT-STRUCT stored in Orthanc."""

from __future__ import annotations

from dataclasses import dataclass

from ...dicom.description import SourceDescription
from ...options import LabelMapOptions
from ...packed_files import packed_array
from ...sources import statistics_of_labelmap
from ...statistics import SegmentStatistics
from .. import store
from .context import TaskContext
from .labelmaps import load_labelmap


@dataclass(frozen=True)
class SourceStatistics:
    """The statistics of one source; ``series_id`` is the referenced series whose grid and
    image values were used, None on the native grid (no ``Image`` figures)."""

    description: SourceDescription
    series_id: str | None
    segments: list[SegmentStatistics]


def source_statistics(
    instance_id: str, options: LabelMapOptions, context: TaskContext
) -> SourceStatistics:
    """Statistics of the segments of ``options`` (all where None) of one instance.

    The label map comes from :func:`load_labelmap` (cache, attachment or decoded); where it
    lies on the referenced series' grid, that series' files go to the worker with it, so the
    ``Image`` figures are of the image after the modality rescale; FRACTIONAL SEGs use
    ``options.threshold`` as the label map does. The layers reach the worker on disk
    (:mod:`segmesh.packed_files`) and it fetches the files itself: nothing large is pickled.
    """
    loaded = load_labelmap(instance_id, options, context)
    labelmap = loaded.labelmap
    image_files = None
    if loaded.series_id is not None:
        image_files = store.stored_series_files(loaded.series_id, context.rest)
    with packed_array(labelmap.layers) as layers:
        segments = context.workers.run(
            statistics_of_labelmap, layers, labelmap.geometry, labelmap.segments, image_files
        )
    return SourceStatistics(loaded.description, loaded.series_id, segments)
