"""What a threshold dialog asks of an image series before storing: its value histogram and a
preview mesh. Both run in a worker, which fetches the series' Part-10 files itself (see
:func:`..store.stored_series_files`)."""

from __future__ import annotations

from ...errors import UnprocessableError
from ...mesh import MeshOptions, ThresholdOptions
from ...statistics.histogram import ValueHistogram
from ...work import Histogram, ReportedMesh, ThresholdMesh
from .. import store
from .context import TaskContext


def series_histogram(series_id: str, bins: int, context: TaskContext) -> ValueHistogram:
    """The histogram of a stored series' values after the modality rescale."""
    files = store.stored_series_files(context.host, series_id)
    return context.workers.run(Histogram(files=files, bins=bins, settings=context.settings))


def threshold_preview(
    series_id: str, threshold: ThresholdOptions, options: MeshOptions, context: TaskContext
) -> ReportedMesh:
    """The mesh a stored model of the thresholded series would hold, and its printability
    report; 422 where it is empty."""
    files = store.stored_series_files(context.host, series_id)
    preview = context.workers.run(
        ThresholdMesh(files=files, threshold=threshold, options=options, settings=context.settings)
    )
    if preview is None:
        raise UnprocessableError("Nothing to mesh", f"no voxel within {threshold.label}")
    return preview
