"""Segment statistics of a SEG or RT-STRUCT stored in Orthanc."""

from __future__ import annotations

from dataclasses import dataclass

from ...dicom.description import SourceDescription
from ...options import LabelMapOptions
from ...sources import statistics_of_file
from ...statistics import SegmentStatistics
from .. import store
from .context import TaskContext
from .labelmaps import read_source


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

    Where the referenced series is stored (and the grid is not native) its files go to the
    worker with the source's, so the ``Image`` figures are of the image after the modality
    rescale; FRACTIONAL SEGs use ``options.threshold`` as the label map does. Files travel
    unparsed (bytes pickle at memory speed, datasets element by element) and parsing,
    conversion and figures run in one worker call.
    """
    source = read_source(instance_id, options)
    image_files = None if source.series_id is None else store.series_files(source.series_id)
    segments = context.workers.run(
        statistics_of_file, source.data, image_files, options, context.settings
    )
    return SourceStatistics(source.description, source.series_id, segments)
