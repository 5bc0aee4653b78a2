"""Segment statistics of a SEG or RT-STRUCT stored in Orthanc."""

from __future__ import annotations

from concurrent.futures import Future
from contextlib import ExitStack
from dataclasses import dataclass

from ...options import LabelMapOptions
from ...source_description import SourceDescription
from ...statistics import SegmentStatistics, with_image_figures
from ...work import MeasuredLabelMap, MeasureImage, MeasureLabelMap
from ...worker_io.packed_files import packed_array
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
    lies on the referenced series' grid, a worker fetches that series' files, so the ``Image``
    figures are of the image after the modality rescale; FRACTIONAL SEGs use
    ``options.threshold`` as the label map does. The layers reach the workers on disk
    (:mod:`segmesh.worker_io.packed_files`): nothing large is pickled.

    The figures of the label map alone are kept in the cache beside it (the image's are made
    anew each time, from the images stored now); where they are not, one worker makes them
    while another fetches the images and finds the image figures. Boxes a worker found are
    kept by the label map here, for the next request.
    """
    loaded = load_labelmap(instance_id, options, context)
    labelmap = loaded.labelmap
    with ExitStack() as stack:
        layers = stack.enter_context(packed_array(labelmap.layers))
        kept = context.cache.statistics(loaded, instance_id, options)
        measuring: Future[MeasuredLabelMap] = Future()
        if kept is None:
            measuring = context.workers.submit(
                MeasureLabelMap(
                    layers=layers,
                    geometry=labelmap.geometry,
                    segments=labelmap.segments,
                    boxes=labelmap.boxes_found(),
                )
            )
        else:
            measuring.set_result(MeasuredLabelMap(kept, labelmap.boxes_found()))
        figures = None
        if loaded.series_id is not None:
            # Slice by slice: this worker needs no boxes.
            image_files = store.stored_series_files(context.host, loaded.series_id)
            figures = context.workers.run(
                MeasureImage(
                    layers=layers,
                    geometry=labelmap.geometry,
                    segments=labelmap.segments,
                    image_files=image_files,
                )
            )
        measured = context.workers.result(measuring)
    if kept is None:
        labelmap.adopt_boxes(measured.boxes)
        context.cache.keep_statistics(loaded, instance_id, options, measured.statistics)
    segments = measured.statistics
    return SourceStatistics(
        loaded.description,
        loaded.series_id,
        segments if figures is None else with_image_figures(segments, figures),
    )
